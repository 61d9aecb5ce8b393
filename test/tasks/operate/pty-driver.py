# Runs a command in a pseudo-terminal and answers its prompts, the way a person at a terminal would.
# argv[1]: JSON {"cmd": [...], "env": {...}, "cwd": "...", "steps": [[regex, answer], ...], "timeout": seconds}
# Each step waits until `regex` appears in the output after the previous match, then types `answer` + Enter;
# the answer "^C" presses Ctrl-C instead (the terminal sends SIGINT to the foreground process group).
# Prints the transcript; exits with the command's exit code (124 when it timed out).
import json, os, pty, re, select, signal, sys, time

spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.chdir(spec.get("cwd") or ".")
    os.execvpe(spec["cmd"][0], spec["cmd"], {**os.environ, **spec.get("env", {})})

out, pos, step = "", 0, 0
steps = spec.get("steps", [])
deadline = time.time() + spec.get("timeout", 120)
timed_out = False
while True:
    if time.time() > deadline:
        timed_out = True
        # The child leads its own session (pty.fork): kill the whole group, tsx's node child included.
        os.killpg(pid, signal.SIGKILL)
        break
    ready, _, _ = select.select([fd], [], [], 0.2)
    if not ready:
        continue
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data.decode("utf-8", errors="replace")
    while step < len(steps):
        m = re.search(steps[step][0], out[pos:])
        if not m:
            break
        pos += m.end()
        os.write(fd, b"\x03" if steps[step][1] == "^C" else (steps[step][1] + "\n").encode())
        step += 1

_, status = os.waitpid(pid, 0)
sys.stdout.write(out)
sys.stdout.write("\n@@steps-answered=%d\n" % step)
sys.exit(124 if timed_out else (os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)))
