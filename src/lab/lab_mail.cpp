#include "lab/lab_mail.hpp"

#include "lab/lab_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>

namespace mobix {

namespace fs = std::filesystem;

namespace {

constexpr unsigned kMailUid = 65534;  // Dovecot refuses mail access as root

std::uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool port_open(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

bool wait_port(std::uint16_t port) {
  for (int i = 0; i < 100; ++i) {
    if (port_open(port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  return false;
}

// Stops a Dovecot master and waits until it is gone (a restart before that fails).
void stop_dovecot(pid_t pid) {
  if (pid <= 0 || ::kill(pid, SIGTERM) != 0) return;
  auto alive = [pid] {
    if (::kill(pid, 0) != 0) return false;
    // An exited master whose parent (a lab killed with -9) is gone stays a zombie until reaped.
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    return !(close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z');
  };
  for (int i = 0; i < 100 && alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(30));
}

// Delivers to DIR/mail/home/<user>/Maildir for local recipients; AUTH required.
const char* kSmtpServer = R"PY(#!/usr/bin/python3
# Written by `mobix lab`: the demo mail provider's submission server (aiosmtpd, AUTH PLAIN/LOGIN).
import mailbox, os, signal, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
host, port, home, domain = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
# user:password lines from a file only the lab can read: never on the command line (ps shows it).
with open(sys.argv[5], encoding="utf-8") as f:
    USERS = {u.encode(): p.encode() for u, p in (l.rstrip("\n").split(":", 1) for l in f if ":" in l)}
def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and USERS.get(auth_data.login) == auth_data.password
    return AuthResult(success=ok, handled=False)
class Deliver:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        user, _, dom = address.partition("@")
        if dom.lower() != domain or user.encode() not in USERS:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"
    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            md = mailbox.Maildir(os.path.join(home, rcpt.partition("@")[0], "Maildir"), create=True)
            md.add(envelope.original_content)
            for sub in ("new", "cur", "tmp"):
                for f in os.listdir(os.path.join(md._path, sub)):
                    os.chown(os.path.join(md._path, sub, f), 65534, 65534)
        return "250 2.0.0 delivered"
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
ctl = Controller(Deliver(), hostname=host, port=port, authenticator=authenticator,
                 auth_require_tls=False, auth_required=True)
ctl.start()
print(f"listening {host}:{port}", flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
ctl.stop()
)PY";

}  // namespace

std::optional<LabMail> start_lab_mail(const std::string& dir, const std::vector<LabMailUser>& users) {
  if (!fs::exists("/usr/sbin/dovecot") ||
      std::system("/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1") != 0) {
    spdlog::warn(
        "lab: Dovecot or python3-aiosmtpd is not installed (scripts/install-deps.sh): no demo mail provider");
    return std::nullopt;
  }
  auto m = fs::path(dir) / "mail";
  for (auto sub : {"run", "state", "home"}) fs::create_directories(m / sub);
  // Dovecot's auth process runs as the dovecot user and must reach the users file.
  ::chmod(dir.c_str(), 0755);
  ::chmod(m.c_str(), 0755);
  LabMail lm;
  lm.pop3 = {"127.0.0.1", free_tcp_port()};
  lm.imap = {"127.0.0.1", free_tcp_port()};
  lm.smtp = {"127.0.0.1", free_tcp_port()};
  {
    std::ofstream users_file(m / "users", std::ios::trunc);
    for (const auto& u : users) {
      auto home = m / "home" / u.user;
      for (auto sub : {"cur", "new", "tmp"}) fs::create_directories(home / "Maildir" / sub);
      users_file << u.user << ":{PLAIN}" << u.password << ":" << kMailUid << ":" << kMailUid
                 << "::" << home.string() << "::\n";
    }
  }
  ::chmod((m / "users").c_str(), 0644);
  for (auto& e : fs::recursive_directory_iterator(m / "home")) ::chown(e.path().c_str(), kMailUid, kMailUid);
  ::chown((m / "home").c_str(), kMailUid, kMailUid);
  std::ofstream(m / "dovecot.conf", std::ios::trunc)
      << "protocols = pop3 imap\nlisten = 127.0.0.1\nbase_dir = " << (m / "run").string()
      << "\nstate_dir = " << (m / "state").string() << "\nlog_path = " << (m / "dovecot.log").string()
      << "\nssl = no\nauth_failure_delay = 0\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n"
         "first_valid_uid = 1\npassdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u "
      << (m / "users").string() << "\n}\nuserdb {\n  driver = passwd-file\n  args = username_format=%u "
      << (m / "users").string()
      << "\n}\nmail_location = maildir:~/Maildir\npop3_uidl_format = %08Xu%08Xv\n"
         "service pop3-login {\n  inet_listener pop3 {\n    port = "
      << lm.pop3.port << "\n  }\n  inet_listener pop3s {\n    port = 0\n  }\n}\n"
      << "service imap-login {\n  inet_listener imap {\n    port = " << lm.imap.port
      << "\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\n";
  // A lab killed with -9 leaves its Dovecot running: stop it before starting ours.
  pid_t stale = 0;
  if (std::ifstream(m / "run" / "master.pid") >> stale) stop_dovecot(stale);
  fs::remove(m / "run" / "master.pid");
  int rc = std::system(("/usr/sbin/dovecot -c " + (m / "dovecot.conf").string()).c_str());
  if (rc != 0 || !wait_port(lm.pop3.port)) {
    spdlog::warn("lab: Dovecot did not start (see {}/dovecot.log)", m.string());
    return std::nullopt;
  }
  // Dovecot writes its pid file after it binds: wait for it, or the lab could not stop it (the pid
  // read as 0 left Dovecot running after the lab's SIGTERM, issue 12 item 8).
  for (int i = 0; i < 150 && lm.dovecot_pid <= 0; ++i) {
    std::ifstream(m / "run" / "master.pid") >> lm.dovecot_pid;
    if (lm.dovecot_pid <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (lm.dovecot_pid <= 0) spdlog::warn("lab: Dovecot wrote no pid file; stop it by hand when the lab ends");
  std::ofstream(m / "smtp_server.py", std::ios::trunc) << kSmtpServer;
  std::vector<std::string> argv{"/usr/bin/python3",           (m / "smtp_server.py").string(), "127.0.0.1",
                                std::to_string(lm.smtp.port), (m / "home").string(),           lm.domain};
  {
    auto path = m / "smtp_users";
    std::ofstream(path, std::ios::trunc);  // created, then narrowed before any secret is written
    ::chmod(path.c_str(), 0600);
    std::ofstream f(path, std::ios::trunc);
    for (const auto& u : users) f << u.user << ":" << u.password << "\n";
    argv.push_back(path.string());
  }
  lm.smtp_pid = lab::spawn_program(argv, (m / "smtp.log").string());
  if (!wait_port(lm.smtp.port)) {
    spdlog::warn("lab: the demo SMTP server did not start (see {}/smtp.log)", m.string());
    stop_lab_mail(lm);
    return std::nullopt;
  }
  spdlog::info("lab: demo mail provider: Dovecot POP3 {} IMAP {}, SMTP {}", lm.pop3.str(), lm.imap.str(),
               lm.smtp.str());
  return lm;
}

void stop_lab_mail(LabMail& m) {
  if (m.smtp_pid > 0) {
    ::kill(m.smtp_pid, SIGTERM);
    ::waitpid(m.smtp_pid, nullptr, 0);
    m.smtp_pid = 0;
  }
  stop_dovecot(m.dovecot_pid);
  m.dovecot_pid = 0;
}

}  // namespace mobix
