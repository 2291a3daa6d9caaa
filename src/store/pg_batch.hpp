#pragma once
// A group-commit batch as a few set-based statements (issue 14 item 8): the batch is collapsed to
// the last change per key (a session's sid, a lease's pool and address, ...), in the order the
// changes were made, then each kind is one statement over arrays (unnest) instead of one statement
// per change. PostgreSQL then pays its per-statement cost a dozen times per batch, not per request.
#include <cstdint>
#include <vector>

#include "store/pg_connection.hpp"
#include "store/records.hpp"

namespace mobix::pg {

/// The statements batch_queries uses, to prepare on the writer's connection.
const std::vector<Statement>& batch_statements();
/// (pool, ip) rows of the offers a batch claimed.
using ClaimedRows = std::vector<std::vector<std::string>>;
/// The batch's statements, in the order they must run; `now` prunes expired seen signals and
/// decides which offers have expired. The offers (unbound put_lease) the batch claims are written
/// to `claimed` when the transaction runs.
std::vector<Query> batch_queries(const std::vector<Change>& batch, std::int64_t now, ClaimedRows* claimed);
/// The batch's offers that `claimed` does not hold: another subscriber has the address.
std::vector<Lease> refused_offers(const std::vector<Change>& batch, const ClaimedRows& claimed);

}  // namespace mobix::pg
