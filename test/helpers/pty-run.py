# Runs a command on a pseudo-terminal of the given width (0: one that reports no size, as some CI runners give) and
# prints everything it wrote. Usage: pty-run.py COLUMNS SECONDS COMMAND [ARGS...]
import os, pty, sys, select, time, fcntl, termios, struct
cols = int(sys.argv[1]); limit = float(sys.argv[2]); args = sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    if cols > 0:
        fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, struct.pack('HHHH', 40, cols, 0, 0))
    os.execvp(args[0], args)
out = b''
deadline = time.time() + limit
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    else:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            sys.stdout.buffer.write(out)
            sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128)
sys.stdout.buffer.write(out)
sys.stdout.flush()
# The terminal closes a moment before the process is reaped: give it a few seconds, then report its own status.
for _ in range(50):
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128)
    time.sleep(0.1)
os.kill(pid, 9)
sys.exit(124)
