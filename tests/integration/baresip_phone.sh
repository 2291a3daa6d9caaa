# Helpers for tests that run baresip (Debian's baresip-core) as a device's own phone: a SIP user
# agent with SDES-SRTP (its srtp module) that registers with the mobility manager, answers calls by
# itself, sends a tone of its own (aufile) and records what it decodes (sndfile). Sourced after lib.sh.
# Driven over its ctrl_tcp module (JSON in netstrings).
start_phone() { # NAME IDENTITY_CODE REGISTRAR(host:port[;transport=tls]) SIP_PORT CTRL_PORT TONE_HZ [CA_FILE]
  # With CA_FILE the phone verifies the registrar's TLS certificate against it.
  local dir=$T/phone-$1
  mkdir -p "$dir"
  /usr/bin/python3 - "$dir/tone.wav" "$6" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb")
hz = int(sys.argv[2])
w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / 8000))) for i in range(8000 * 30)))
PY
  cat >"$dir/config" <<C
poll_method		epoll
sip_listen		127.0.0.1:$4
net_interface		127.0.0.1
audio_player		aubridge,phone-$1
snd_path		$dir
audio_source		aufile,$dir/tone.wav
audio_alert		aufile,/dev/null
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			aubridge.so
module			sndfile.so
module			srtp.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:$5
C
  if [ -n "${7:-}" ]; then printf 'sip_cafile\t\t%s\n' "$7" >>"$dir/config"; fi
  echo "<sip:$2@$3>;regint=600;mediaenc=srtp-mand;answermode=auto;audio_codecs=PCMU" >"$dir/accounts"
  : >"$dir/contacts"
  (cd "$dir" && exec baresip -f "$dir") >"$dir/out.log" 2>&1 &
  PIDS+=($!)
  eval "PHONE_CTRL_$1=$5 PHONE_PID_$1=$!"
}
stop_phone() { # NAME: quits while the mobility manager still answers its un-REGISTER (a phone
  # killed after it waits out SIP's 32 s retransmission timer before it exits)
  local pid
  eval "pid=\$PHONE_PID_$1"
  phone_command "$1" quit >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
phone_command() { # NAME COMMAND [PARAMS]: prints baresip's response
  local port
  eval "port=\$PHONE_CTRL_$1"
  /usr/bin/python3 - "$port" "$2" "${3:-}" <<'PY'
import json, socket, sys
port, command, params = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
body = json.dumps({"command": command, "params": params, "token": "t1"}).encode()
s.sendall(str(len(body)).encode() + b":" + body + b",")
data = b""
while True:  # netstrings until the response with our token
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
    while b":" in data:
        n, rest = data.split(b":", 1)
        if len(rest) < int(n) + 1:
            break
        msg, data = rest[: int(n)], rest[int(n) + 1 :]
        j = json.loads(msg)
        if j.get("response") and j.get("token") == "t1":
            print(j.get("data", ""))
            sys.exit(0 if j.get("ok") else 1)
PY
}
heard_tone() { # NAME HZ: true when what the phone decoded (its sndfile dump) is a tone of about HZ
  local dec
  dec=$(ls "$T/phone-$1"/dump-*-dec.wav 2>/dev/null | head -1)
  [ -n "$dec" ] || { echo "no recording"; return 1; }
  /usr/bin/python3 - "$dec" "$2" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1])
frames = w.readframes(w.getnframes())
samples = struct.unpack("<%dh" % (len(frames) // 2), frames)
rms = math.sqrt(sum(s * s for s in samples) / max(len(samples), 1))
crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
hz = crossings / 2 / (len(samples) / w.getframerate()) if samples else 0
print("%.1f s, rms %.0f, %.0f Hz" % (len(samples) / w.getframerate(), rms, hz))
want = float(sys.argv[2])
sys.exit(0 if len(samples) > 8000 and rms > 1000 and abs(hz - want) < want / 20 else 1)
PY
}
