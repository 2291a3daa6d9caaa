#pragma once
// `mobix lab --nodes 2` (issue 14 item 6): the lab over a shared PostgreSQL store with a second
// node. A PostgreSQL 15 cluster lives in DIR/pg (initdb on the first run, as the `postgres` user when
// the lab runs as root); the lab's own node moves to 127.0.0.2 and a second `mobix serve` (DIR/node2)
// serves RADIUS, the mail proxies and DNS on 127.0.0.3 from the same sessions and pools.
#include <sys/types.h>
#include <cstdint>
#include <string>

#include "core/net.hpp"

namespace mobix {

struct LabCluster {
  std::string pg_data;
  std::uint16_t pg_port = 0;
  pid_t node2 = -1;
  std::string node2_config;
  Endpoint node2_admin, node2_auth, node2_acct, node2_pop3, node2_imap, node2_smtp, node2_dns;
};

/// The first run of a two-node lab: edits `lab_config` (the lab node's config, not yet written) for
/// the shared store and 127.0.0.2, and writes DIR/store.dsn and DIR/node2/mobix.yaml.
void prepare_lab_nodes(const std::string& dir, std::string& lab_config);
/// True when DIR was made as a two-node lab.
bool is_lab_cluster(const std::string& dir);
/// Starts PostgreSQL (initdb first when DIR/pg is new); before the lab's node opens its store.
LabCluster start_lab_postgres(const std::string& dir);
/// Starts the second node and waits for it; after the lab's node has migrated the store.
void start_lab_node2(const std::string& dir, LabCluster& c);
/// Stops the second node, then PostgreSQL.
void stop_lab_cluster(LabCluster& c);

}  // namespace mobix
