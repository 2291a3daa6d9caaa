#pragma once
// The access request signal as an e-mail (seed 001 step D, "by e-mail"): one MIME part of type
// application/vnd.mobix.signal, base64 (RFC 2045 6.8). The signal authenticates itself, so the
// mail only carries it: nothing in the headers is trusted, and MTAs may add or fold headers.
// Pure: text in, value or nullopt out; never throws on untrusted input.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mobix::signal {

inline constexpr std::string_view kMailContentType = "application/vnd.mobix.signal";

/// The whole message (headers, blank line, base64 body), CRLF line ends, without SMTP
/// dot-stuffing. `date` is an RFC 5322 date-time, `message_id` without angle brackets.
std::string compose_mail(std::string_view from, std::string_view to, std::span<const std::uint8_t> sealed,
                         std::string_view date, std::string_view message_id);

/// The sealed signal carried by `message` (headers + body, CRLF or LF line ends), or nullopt
/// when it is not a single-part application/vnd.mobix.signal message in base64, or decodes to
/// more than `max_size` octets.
std::optional<std::vector<std::uint8_t>> extract_from_mail(std::string_view message, std::size_t max_size);

}  // namespace mobix::signal
