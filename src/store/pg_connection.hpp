#pragma once
// One libpq connection (PostgreSQL's own client library) with the statements the store prepares on
// it, and a fixed-size pool of them. Blocking calls: they run on the store writer's thread and on
// the threads that load state at start or look up subscribers.
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <libpq-fe.h>

namespace mobix::pg {

struct Options {
  std::string dsn;  ///< never logged
  std::uint32_t connect_timeout = 5;
  std::string application_name = "mobix";
  /// Prepare the statements on each connection (named, server-side); without, each query carries its
  /// SQL (unnamed statements), which a transaction-mode pooler before PgBouncer 1.21 requires.
  bool prepared = true;
};

/// A named statement prepared on every connection when it (re)connects.
struct Statement {
  const char* name;
  const char* sql;
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

/// A query's parameters, all sent as text (PostgreSQL casts them to the column types).
using Params = std::vector<std::string>;

struct Query;

class Connection {
 public:
  Connection(const Options& opts, const std::vector<Statement>& statements);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Reconnects (and prepares the statements again) when the connection is down; throws StoreError.
  void ensure();
  /// As ensure(), and also starts afresh when a transaction or pipeline was left open.
  void ensure_idle();
  /// A simple command or query; throws StoreError (StoreConflict for unique violations).
  Result exec(const std::string& sql);
  Result exec_prepared(const char* name, const Params& params);
  PGconn* get() const { return conn_; }
  /// Sends `q` in the current pipeline (prepared, or with its SQL when statements are not prepared).
  void send(const Query& q);
  /// Forgets the connection after a failure in the middle of a transaction or pipeline.
  void drop();

 private:
  void connect();
  const char* sql_of(const char* name) const;
  const Options& opts_;
  const std::vector<Statement>& statements_;
  PGconn* conn_ = nullptr;
};

/// Throws StoreError (or StoreConflict for SQLSTATE 23505) when `r` is not a success.
void check(PGconn* conn, const PGresult* r, std::string_view what);

/// Connections for readers; the writer keeps its own so commits never wait for a reader.
class Pool {
 public:
  Pool(const Options& opts, const std::vector<Statement>& statements, std::size_t size);
  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> c) : pool_(pool), conn_(std::move(c)) {}
    ~Lease() { pool_.give_back(std::move(conn_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    Pool& pool_;
    std::unique_ptr<Connection> conn_;
  };
  /// Waits for a free connection and makes sure it is up; throws StoreError.
  Lease acquire();

 private:
  void give_back(std::unique_ptr<Connection> c);
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

/// One prepared statement to run, with its parameters.
struct Query {
  const char* name;
  Params params;
  /// When set, the rows the statement returns (RETURNING), each as its columns' text.
  std::vector<std::vector<std::string>>* rows = nullptr;
};
/// Runs `queries` as one transaction with synchronous_commit on, in libpq pipeline mode: the
/// statements go out in chunks without a round trip each; throws StoreError and leaves nothing
/// committed when any of them fails.
void run_transaction(Connection& conn, const std::vector<Query>& queries);

}  // namespace mobix::pg
