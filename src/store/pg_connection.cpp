#include "store/pg_connection.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "store/store.hpp"

namespace mobix::pg {

namespace {

constexpr std::size_t kPipelineChunk = 256;  ///< statements per round trip inside one transaction

std::string error_of(PGconn* conn) {
  std::string e = conn ? PQerrorMessage(conn) : "out of memory";
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  return e;
}

void send_plain(PGconn* c, const char* sql) {
  if (!PQsendQueryParams(c, sql, 0, nullptr, nullptr, nullptr, nullptr, 0))
    throw StoreError("postgresql: cannot send " + std::string(sql) + ": " + error_of(c));
}

/// Reads the results of `n` pipelined statements and the sync that follows them. The first
/// failure is kept in `error` (the server skips the rest until the sync).
void collect(PGconn* c, const std::vector<const Query*>& sent, std::string& error, bool& conflict,
             bool& fenced) {
  for (const Query* q : sent) {
    Result r(PQgetResult(c));
    if (!r) throw StoreError("postgresql: connection lost in a pipeline: " + error_of(c));
    auto st = PQresultStatus(r.get());
    if (st == PGRES_TUPLES_OK && q && q->rows) {
      for (int row = 0; row < PQntuples(r.get()); ++row) {
        auto& out = q->rows->emplace_back();
        for (int col = 0; col < PQnfields(r.get()); ++col) out.emplace_back(PQgetvalue(r.get(), row, col));
      }
    }
    if (st == PGRES_FATAL_ERROR && error.empty()) {
      error = PQresultErrorMessage(r.get());
      const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
      conflict = state && std::string_view(state) == "23505";
      fenced = state && std::string_view(state) == "MX001";
    }
    while (Result more{PQgetResult(c)}) {
    }
  }
  Result sync(PQgetResult(c));
  if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC)
    throw StoreError("postgresql: pipeline out of step: " + error_of(c));
}

}  // namespace

void check(PGconn* conn, const PGresult* r, std::string_view what) {
  auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
  std::string msg = r ? PQresultErrorMessage(r) : error_of(conn);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (state && std::string_view(state) == "23505")
    throw StoreConflict("postgresql: " + std::string(what) + ": " + msg);
  throw StoreError("postgresql: " + std::string(what) + ": " + msg);
}

Connection::Connection(const Options& opts, const std::vector<Statement>& statements)
    : opts_(opts), statements_(statements) {
  connect();
}

Connection::~Connection() {
  drop();
}

const char* Connection::sql_of(const char* name) const {
  for (const auto& st : statements_)
    if (std::string_view(st.name) == name) return st.sql;
  throw StoreError("postgresql: no statement " + std::string(name));
}

void Connection::send(const Query& q) {
  std::vector<const char*> values;
  values.reserve(q.params.size());
  for (const auto& p : q.params) values.push_back(p.c_str());
  auto n = static_cast<int>(values.size());
  bool sent = opts_.prepared
                  ? PQsendQueryPrepared(conn_, q.name, n, values.data(), nullptr, nullptr, 0)
                  : PQsendQueryParams(conn_, sql_of(q.name), n, nullptr, values.data(), nullptr, nullptr, 0);
  if (!sent) throw StoreError("postgresql: cannot send " + std::string(q.name) + ": " + error_of(conn_));
}

void Connection::drop() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

void Connection::connect() {
  drop();
  // The timeout is a default the operator's DSN (expanded from `dbname`) may override; the
  // application_name is this node's origin in change notifications, so it comes last and wins.
  auto timeout = std::to_string(opts_.connect_timeout);
  const char* keys[] = {"connect_timeout", "dbname", "application_name", nullptr};
  const char* values[] = {timeout.c_str(), opts_.dsn.c_str(), opts_.application_name.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    auto e = error_of(conn_);
    drop();
    throw StoreError("postgresql: cannot connect: " + e);
  }
  // Server notices ("relation already exists, skipping") go to the debug log, not stderr.
  PQsetNoticeProcessor(
      conn_, [](void*, const char* message) { spdlog::debug("postgresql: {}", std::string_view(message)); },
      nullptr);
  if (!opts_.prepared) return;
  for (const auto& s : statements_) {
    Result r(PQprepare(conn_, s.name, s.sql, 0, nullptr));
    check(conn_, r.get(), std::string("prepare ") + s.name);
  }
}

void Connection::ensure() {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) connect();
}

void Connection::ensure_idle() {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK || PQpipelineStatus(conn_) != PQ_PIPELINE_OFF ||
      PQtransactionStatus(conn_) != PQTRANS_IDLE)
    connect();
}

Result Connection::exec(const std::string& sql) {
  ensure();
  Result r(PQexec(conn_, sql.c_str()));
  check(conn_, r.get(), sql.substr(0, 60));
  return r;
}

Result Connection::exec_prepared(const char* name, const Params& params) {
  ensure();
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  auto n = static_cast<int>(values.size());
  Result r(opts_.prepared
               ? PQexecPrepared(conn_, name, n, values.data(), nullptr, nullptr, 0)
               : PQexecParams(conn_, sql_of(name), n, nullptr, values.data(), nullptr, nullptr, 0));
  check(conn_, r.get(), name);
  return r;
}

Pool::Pool(const Options& opts, const std::vector<Statement>& statements, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) idle_.push_back(std::make_unique<Connection>(opts, statements));
}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !idle_.empty(); });
  auto c = std::move(idle_.back());
  idle_.pop_back();
  lock.unlock();
  try {
    c->ensure_idle();
  } catch (...) {
    give_back(std::move(c));  // down for now; the next caller tries to reconnect it
    throw;
  }
  return Lease(*this, std::move(c));
}

void Pool::give_back(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(c));
  }
  cv_.notify_one();
}

void run_transaction(Connection& conn, const std::vector<Query>& queries) {
  conn.ensure_idle();
  PGconn* c = conn.get();
  if (!PQenterPipelineMode(c)) throw StoreError("postgresql: cannot enter pipeline mode: " + error_of(c));
  std::string error;
  bool conflict = false;
  bool fenced = false;
  try {
    // Durable before acknowledged (issue 14 item 2), whatever the server's default says; SET LOCAL
    // also holds behind a transaction-mode pooler.
    send_plain(c, "BEGIN");
    send_plain(c, "SET LOCAL synchronous_commit TO on");
    std::vector<const Query*> sent{nullptr, nullptr};  // what each pending result belongs to
    for (const auto& q : queries) {
      conn.send(q);
      sent.push_back(&q);
      if (sent.size() == kPipelineChunk) {
        if (!PQpipelineSync(c)) throw StoreError("postgresql: " + error_of(c));
        collect(c, sent, error, conflict, fenced);
        sent.clear();
      }
    }
    send_plain(c, error.empty() ? "COMMIT" : "ROLLBACK");
    sent.push_back(nullptr);
    if (!PQpipelineSync(c)) throw StoreError("postgresql: " + error_of(c));
    collect(c, sent, error, conflict, fenced);
    if (!PQexitPipelineMode(c)) throw StoreError("postgresql: cannot leave pipeline mode: " + error_of(c));
  } catch (...) {
    conn.drop();  // a half-read pipeline cannot be reused; the next call reconnects
    throw;
  }
  if (!error.empty()) {
    while (!error.empty() && error.back() == '\n') error.pop_back();
    if (PQtransactionStatus(c) != PQTRANS_IDLE) conn.drop();
    if (conflict) throw StoreConflict("postgresql: " + error);
    if (fenced) throw StoreFenced("postgresql: " + error);
    throw StoreError("postgresql: " + error);
  }
}

}  // namespace mobix::pg
