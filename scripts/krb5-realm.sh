# Sourced by the seed 003 tests and benchmarks: writes a private MIT Kerberos realm's krb5.conf and
# kdc.conf (ENVIRONMENT.md recipe; never the system's) and exports KRB5_CONFIG, KRB5_KDC_PROFILE and
# KRB5CCNAME for the tools. The caller then runs kdb5_util, kadmin.local and krb5kdc.
#   write_realm DIR REALM KDC_PORT [CLOCKSKEW_SECONDS]
write_realm() {
  local k=$1 realm=$2 port=$3 skew=${4:-300}
  mkdir -p "$k"
  cat >"$k/krb5.conf" <<C
[libdefaults]
    default_realm = $realm
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    ignore_acceptor_hostname = true
    clockskew = $skew
    default_ccache_name = FILE:$k/ccache
[realms]
    $realm = {
        kdc = 127.0.0.1:$port
    }
[domain_realm]
    localhost = $realm
C
  cat >"$k/kdc.conf" <<C
[kdcdefaults]
    kdc_listen = 127.0.0.1:$port
    kdc_tcp_listen = 127.0.0.1:$port
[realms]
    $realm = {
        database_name = $k/principal
        key_stash_file = $k/stash
        max_life = 10h
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }
[logging]
    kdc = FILE:$k/kdc.log
    default = FILE:$k/krb5lib.log
C
  export KRB5_CONFIG=$k/krb5.conf KRB5_KDC_PROFILE=$k/kdc.conf KRB5CCNAME=FILE:$k/ccache
}
