#pragma once
// The access role's decisions, without any I/O: who may attach (RFC 2865 Access-Request),
// which address they get (pools), and how accounting (RFC 2866) changes the sessions.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "access/config_auth.hpp"
#include "access/ip_pool.hpp"
#include "access/session_table.hpp"
#include "core/config.hpp"
#include "directory/directory.hpp"

namespace mobix {

/// What an Access-Request asks.
struct AuthInput {
  std::string username;
  std::string msisdn;  ///< from Calling-Station-Id, normalised
  std::string imsi;    ///< from the 3GPP-IMSI VSA
  std::string apn;     ///< from Called-Station-Id
  /// Checks the request's credentials (PAP or CHAP) against a stored password.
  std::function<bool(const std::string& password)> check_password;
  bool has_credentials = false;
  /// The unhidden User-Password (PAP) when the request carried one; never logged.
  std::string pap_password;
  /// Asked by a roaming partner's visited network (seed 002 [0028]): authenticate and answer
  /// with the host name, but the visited network assigns the address.
  bool from_roaming_partner = false;
};

struct AuthDecision {
  bool accept = false;
  std::string reason;  ///< for Reply-Message and the log; never contains a secret
  std::string metric_reason;
  std::string framed_ip;
  std::string hostname;  ///< the subscriber's host name (sent to a roaming partner)
  std::int64_t subscriber_id = 0;
  std::vector<Change> changes;  ///< the lease offer, to be durable before the Accept
};

class AccessService {
 public:
  /// `boxes`: the valid-serial database, for the configuration realm (seed 004 Phase II [3]).
  AccessService(const AccessConfig& cfg, Directory& dir, SessionTable& table,
                const RoamingConfig* roaming = nullptr, BoxRepository* boxes = nullptr);

  /// A stable pool key for a roaming terminal the directory does not know (negative, so it
  /// never collides with a subscriber id): the same NAI gets its previous address back.
  static std::int64_t roamer_id(std::string_view nai);
  /// "alice@Home.Test" -> "home.test"; "" without a realm.
  static std::string realm_of(std::string_view username);
  /// The partner whose realm `username` carries, when roaming is configured.
  const RoamingPartnerConfig* partner_for(std::string_view username) const;
  /// True for a username in one of our realms, or without a realm.
  bool is_own_realm(std::string_view username) const;
  /// Address for a terminal its home partner authenticated (seed 002 [0029]).
  AuthDecision offer_roamer(const std::string& nai, const std::string& apn, std::int64_t now);

  /// Restores leases saved in the store.
  void load_leases(const std::vector<Lease>& leases);
  /// Several nodes share the pools (issue 14 item 3): cursors start apart, and the store decides
  /// between offers (ChangeLog::apply refuses an address another subscriber holds).
  void share_pools();
  /// Another node's committed session changes: their addresses are bound, or free again, here too.
  void follow_remote(const std::vector<SessionEvent>& events);
  /// Offers the store refused: forgotten, and each pool's stored leases (`stored(pool)`) adopted,
  /// so the next offer picks an address nobody holds.
  void offers_taken(const std::vector<Lease>& taken,
                    const std::function<std::vector<Lease>(const std::string& pool)>& stored);

  /// One directory lookup: by `kind`, or by any identity when it has none.
  struct Lookup {
    std::optional<IdentityKind> kind;
    std::string value;
  };
  /// The lookups that find an Access-Request's (an Accounting Start's) subscriber, in order: the
  /// first that finds one wins. Empty when the directory is not asked (a box's configuration
  /// log-in, a roamer's accounting). With a blocking() directory (LDAP) the caller makes them off
  /// its event loop (run_lookups) and passes the result to authorize() / account_start().
  std::vector<Lookup> auth_lookups(const AuthInput& in) const;
  std::vector<Lookup> acct_lookups(const AcctInput& in) const;
  /// May block on the network; throws DirectoryUnavailable.
  static std::optional<Subscriber> run_lookups(Directory& dir, const std::vector<Lookup>& lookups);

  /// Looks the subscriber up in place (fine for the embedded store), then decides.
  AuthDecision authorize(const AuthInput& in, std::int64_t now);
  /// Decides with the subscriber the lookups found (or not).
  AuthDecision authorize(const AuthInput& in, std::int64_t now, const std::optional<Subscriber>& sub);
  /// A box's configuration log-in (seed 004 Phase II step [3]): a configuration-pool address.
  AuthDecision authorize_box(const AuthInput& in, std::int64_t now);

  /// Applies Start/Interim/Stop to the session table and the leases. A Start is enriched from the
  /// directory: in place, or with `looked_up` (acct_lookups() made elsewhere).
  Outcome account_start(AcctInput in, std::int64_t now,
                        const std::optional<std::optional<Subscriber>>& looked_up = std::nullopt);
  Outcome account_interim(AcctInput in, std::int64_t now);
  Outcome account_stop(const AcctInput& in, std::int64_t now);
  Outcome nas_restarted(std::string_view nas, std::string_view nas_address, std::string_view reason,
                        std::int64_t now);
  /// Sessions silent for `missed_interims` intervals (a singleton job when nodes share the store).
  Outcome expire_sessions(std::int64_t now);
  /// This node's offers that no Start used in time (every node sweeps its own).
  Outcome expire_offers(std::int64_t now);
  Outcome purge_ip(std::string_view ip, std::int64_t now);

  PoolSet& pools() { return pools_; }
  SessionTable& table() { return table_; }
  Directory& directory() { return dir_; }

 private:
  /// For every detach, frees the session's pool address.
  void release_leases(Outcome& out);
  /// An address from `pool` for `key` (a lease offer to be made durable before the Accept).
  AuthDecision offer_from(IpPool& pool, std::int64_t key, std::int64_t now, const std::string& what);
  /// Fills the Start's subscriber id and the identities the NAS did not send.
  void resolve_subscriber(AcctInput& in, const std::optional<std::optional<Subscriber>>& looked_up);

  const AccessConfig& cfg_;
  Directory& dir_;
  SessionTable& table_;
  const RoamingConfig* roaming_;
  PoolSet pools_;
  std::optional<ConfigAuthorizer> config_auth_;
};

}  // namespace mobix
