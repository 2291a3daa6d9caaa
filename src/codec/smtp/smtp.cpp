#include "codec/smtp/smtp.hpp"

#include <cctype>

namespace mobix::smtp {

std::optional<Command> parse_command(std::string_view line) {
  if (line.size() + 2 > kMaxCommandLine || line.empty()) return std::nullopt;
  auto sp = line.find(' ');
  auto verb = line.substr(0, sp);
  if (verb.size() < 4 || verb.size() > 8) return std::nullopt;
  Command c;
  for (char ch : verb) {
    if (!std::isalpha(static_cast<unsigned char>(ch))) return std::nullopt;
    c.verb.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  }
  if (sp != std::string_view::npos) c.argument = std::string(line.substr(sp + 1));
  for (char ch : c.argument)
    if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') return std::nullopt;
  return c;
}

std::optional<MailFrom> parse_mail_from(std::string_view arg) {
  // "FROM:<addr>" with optional space after the colon (tolerated, as most servers do).
  if (arg.size() < 6) return std::nullopt;
  std::string head;
  for (char ch : arg.substr(0, 5))
    head.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  if (head != "FROM:") return std::nullopt;
  arg.remove_prefix(5);
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  if (arg.empty() || arg.front() != '<') return std::nullopt;
  auto close = arg.find('>');
  if (close == std::string_view::npos) return std::nullopt;
  MailFrom m;
  m.address = std::string(arg.substr(1, close - 1));
  m.parameters = std::string(arg.substr(close + 1));
  if (!m.parameters.empty() && m.parameters.front() != ' ') return std::nullopt;
  return m;
}

std::optional<ReplyLine> parse_reply_line(std::string_view line) {
  if (line.size() < 3) return std::nullopt;
  int code = 0;
  for (int i = 0; i < 3; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return std::nullopt;
    code = code * 10 + (line[i] - '0');
  }
  if (code < 200 || code > 599) return std::nullopt;
  if (line.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;  // RFC 5321 2.3.8
  bool more = line.size() > 3 && line[3] == '-';
  if (line.size() > 3 && line[3] != '-' && line[3] != ' ') return std::nullopt;
  return ReplyLine{code, more};
}

ReplyReader::Status ReplyReader::line(std::string_view line) {
  auto rl = parse_reply_line(line);
  if (!rl || ++lines_ > kMaxLines || (lines_ > 1 && rl->code != reply_.code)) return Status::bad;
  reply_.code = rl->code;
  reply_.text.append(line).append("\r\n");
  return rl->more ? Status::more : Status::done;
}

std::optional<std::string> ehlo_keyword(const Reply& ehlo, std::string_view keyword) {
  std::string_view text = ehlo.text;
  std::size_t pos = 0;
  for (int line = 0; pos < text.size(); ++line) {
    auto end = text.find("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    if (line > 0 && end - pos >= 4) {  // the first line is the greeting, not a keyword
      std::string kw(text.substr(pos + 4, end - pos - 4));
      for (auto& c : kw) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (kw == keyword) return "";
      if (kw.size() > keyword.size() && kw.compare(0, keyword.size(), keyword) == 0 &&
          kw[keyword.size()] == ' ')
        return kw.substr(keyword.size() + 1);
    }
    pos = end + 2;
  }
  return std::nullopt;
}

std::string base64(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

std::string display_name(std::string_view name) {
  bool ascii = true;
  for (char ch : name)
    if (static_cast<unsigned char>(ch) >= 0x80 || static_cast<unsigned char>(ch) < 0x20) ascii = false;
  if (ascii) {
    std::string q = "\"";
    for (char ch : name) {
      if (ch == '"' || ch == '\\') q.push_back('\\');
      q.push_back(ch);
    }
    return q + "\"";
  }
  // RFC 2047 section 2: an encoded-word is at most 75 characters; split on UTF-8 boundaries.
  std::string out;
  std::size_t pos = 0;
  while (pos < name.size()) {
    std::size_t len = std::min<std::size_t>(45, name.size() - pos);  // 45 octets -> 60 base64 chars
    std::size_t cut = len;
    while (cut > 0 && pos + cut < name.size() && (static_cast<unsigned char>(name[pos + cut]) & 0xC0) == 0x80)
      --cut;
    if (cut > 0) len = cut;  // invalid UTF-8 (all continuation octets): split anywhere, never loop
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(name.substr(pos, len)) + "?=";
    pos += len;
  }
  return out;
}

std::string normalize_line_endings(std::string_view msg) {
  std::string out;
  out.reserve(msg.size() + 16);
  for (std::size_t i = 0; i < msg.size(); ++i) {
    char c = msg[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < msg.size() && msg[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out;
}

std::string dot_stuff(std::string_view msg) {
  std::string out;
  out.reserve(msg.size() + 16);
  bool line_start = true;
  for (std::size_t i = 0; i < msg.size(); ++i) {
    if (line_start && msg[i] == '.') out += '.';
    out += msg[i];
    line_start = msg[i] == '\n' && i > 0 && msg[i - 1] == '\r';
  }
  return out;
}

namespace {

// The originator fields a handset may not set itself (RFC 5322 3.6.2, 3.6.6): its From comes from
// the directory, so no other field may name another originator.
bool is_originator_field(std::string_view line) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  auto name = line.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);  // obs-optional
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "from" || lower == "sender" || lower == "resent-from" || lower == "resent-sender";
}

// The end of the field starting at `pos` (its line ending at `eol`), past folded continuation lines
// (RFC 5322 2.2.3).
std::size_t field_end(std::string_view msg, std::size_t eol) {
  auto end = eol + 2;
  while (end < msg.size() && (msg[end] == ' ' || msg[end] == '\t')) {
    auto next = msg.find("\r\n", end);
    if (next == std::string_view::npos) return msg.size();
    end = next + 2;
  }
  return end;
}

}  // namespace

std::string rewrite_from(std::string_view raw, std::string_view address, std::string_view full_name) {
  std::string from = "From: ";
  if (!full_name.empty()) from += display_name(full_name) + " ";
  from += "<" + std::string(address) + ">\r\n";
  // Bare CR or LF would let a header hide from this scan and reach a lenient server as a line.
  auto normalized = normalize_line_endings(raw);
  std::string_view msg = normalized;
  std::string out;
  out.reserve(msg.size() + from.size());
  bool placed = false;
  std::size_t pos = 0;
  while (pos < msg.size()) {
    auto eol = msg.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos) break;  // the empty line ends the header section
    auto end = field_end(msg, eol);
    if (is_originator_field(msg.substr(pos, eol - pos))) {
      if (!placed) out += from;  // the subscriber's From where the first originator field was
      placed = true;
    } else {
      out += msg.substr(pos, end - pos);
    }
    pos = end;
  }
  if (!placed) out.insert(0, from);
  out += msg.substr(pos);
  return out;
}

DataRewriter::DataRewriter(std::string address, std::string full_name)
    : address_(std::move(address)), full_name_(std::move(full_name)) {}

DataRewriter::Status DataRewriter::line(std::string_view line, std::string& out) {
  // With CRLF back on, each line normalises on its own exactly as inside the whole message.
  std::string normalized = normalize_line_endings(std::string(line) + "\r\n");
  if (!in_header_) {
    out += dot_stuff(normalized);
    return Status::ok;
  }
  // A bare LF may hide the blank line inside one CRLF line: look for it in the normalised text.
  const std::size_t from = head_.size() >= 2 ? head_.size() - 2 : 0;
  head_ += normalized;
  std::size_t end = std::string::npos;
  if (head_.starts_with("\r\n"))
    end = 2;
  else if (auto blank = head_.find("\r\n\r\n", from); blank != std::string::npos)
    end = blank + 4;
  if (end == std::string::npos) {
    if (head_.size() > kMaxHeaderSection) return Status::header_too_big;
    return Status::ok;
  }
  in_header_ = false;
  out += dot_stuff(rewrite_from(std::string_view(head_).substr(0, end), address_, full_name_));
  out += dot_stuff(std::string_view(head_).substr(end));
  head_.clear();
  head_.shrink_to_fit();
  return Status::ok;
}

DataRewriter::Fed DataRewriter::feed(std::string_view in, std::string& out, bool forward) {
  Fed fed;
  std::size_t pos = 0, run = 0;  // [run, pos): body lines passed through unchanged, not yet appended
  auto flush_run = [&] {
    if (forward) out.append(in.substr(run, pos - run));
  };
  while (!fed.ended) {
    // Un-stuffing then stuffing again changes nothing in a body line without a leading dot, and
    // normalising changes nothing in one without a bare CR or LF (RFC 5321 4.5.2): such a line is
    // one whose first LF ends its first CRLF, with no CR before.
    const auto lf = in.find('\n', pos);
    if (lf == std::string_view::npos) break;
    if (!in_header_ && lf > pos && in[lf - 1] == '\r' && in[pos] != '.' &&
        in.substr(pos, lf - 1 - pos).find('\r') == std::string_view::npos) {
      fed.octets += lf + 1 - pos;
      pos = lf + 1;
      continue;
    }
    const auto eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) break;
    auto text = in.substr(pos, eol - pos);
    const std::size_t next = eol + 2;
    flush_run();
    if (text == ".") {
      fed.ended = true;
    } else {
      if (text.starts_with('.')) text.remove_prefix(1);
      fed.octets += text.size() + 2;
      if (forward && fed.status == Status::ok) fed.status = line(text, out);
    }
    pos = run = next;
  }
  flush_run();
  fed.consumed = pos;
  return fed;
}

void DataRewriter::finish(std::string& out) {
  if (!in_header_) return;
  out += dot_stuff(rewrite_from(head_, address_, full_name_));
  in_header_ = false;
  head_.clear();
}

}  // namespace mobix::smtp
