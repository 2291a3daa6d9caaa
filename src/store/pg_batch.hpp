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
/// A batch's pool offers and what the claim statement wrote of them (RETURNING pool, ip), and the
/// rows of the bindings the binding statement did not write.
struct Claims {
  std::vector<const Lease*> offered;  ///< into the batch the queries were made from
  std::vector<std::vector<std::string>> returned;
  std::vector<std::vector<std::string>> bindings_returned;
  /// The offers not written (another subscriber holds the address) and the bindings not written
  /// (another node stored a later identification).
  Refused refused() const;
};
/// The batch's statements, in the order they must run; `now` prunes expired seen signals and
/// decides which offers have expired. With `claims`, the offers (unbound put_lease) are listed there
/// and the claim statement's rows land there when the transaction runs.
std::vector<Query> batch_queries(const std::vector<Change>& batch, std::int64_t now, Claims* claims);

}  // namespace mobix::pg
