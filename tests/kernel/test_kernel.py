#!/usr/bin/python3
"""The tortuga Jupyter kernel, driven by Jupyter's own client (Debian's python3-jupyter-client).

usage: test_kernel.py TORTUGA_EXECUTABLE SOURCE_DIR

The kernelspec is installed with `tortuga kernel install --prefix` into a scratch folder that JUPYTER_PATH
points at; a KernelManager starts the kernel from it and a blocking client talks to it over the five
channels. Checked: kernel_info, execute (stream output, execute_result, execution_count, errors with a Lua
traceback), completion, is_complete, inspect (the `---` doc comment read from the source file), input_request,
rich display of volumes (PNG) and tables (HTML), interrupts of an engine operation and of a Lua loop (by
SIGINT and by an interrupt_request on the control channel), large output, messages with a wrong signature,
an unknown type or no delimiter (refused, the kernel keeps running), restart, shutdown, and bad connection
files. Exit status 77 (skipped) when jupyter_client is missing.
"""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import unittest

try:
    import zmq
    from jupyter_client.manager import KernelManager
    from jupyter_client.session import Session
except ImportError as e:  # pragma: no cover - depends on the machine
    print("skipped: %s (install python3-jupyter-client)" % e)
    sys.exit(77)

TIMEOUT = int(os.environ.get("TG_KERNEL_TEST_TIMEOUT", "300"))  # seconds for any one reply: generous, the machine may be loaded
TORTUGA = None
SOURCE = None
SCRATCH = None


def setUpModule():
    global SCRATCH
    if os.environ.get("TMPDIR"):
        os.makedirs(os.environ["TMPDIR"], exist_ok=True)
    SCRATCH = tempfile.mkdtemp(prefix="tortuga-kernel-test-", dir=os.environ.get("TMPDIR"))
    # keep Jupyter's files (runtime, config, data) inside the scratch folder
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"),
                     ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython")):
        os.environ[var] = os.path.join(SCRATCH, sub)
    os.environ["JUPYTER_PATH"] = os.path.join(SCRATCH, "share", "jupyter")
    run = subprocess.run([TORTUGA, "kernel", "install", "--prefix", SCRATCH], capture_output=True, text=True,
                         timeout=TIMEOUT)
    if run.returncode != 0:
        raise RuntimeError("tortuga kernel install failed: %s%s" % (run.stdout, run.stderr))


def tearDownModule():
    shutil.rmtree(SCRATCH, ignore_errors=True)


def png_size(data):
    raw = base64.b64decode(data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert raw[12:16] == b"IHDR"
    return struct.unpack(">II", raw[16:24])


class Kernel:
    """A started kernel with a blocking client; stderr goes to a file the tests read."""

    def __init__(self, name):
        self.log_path = os.path.join(SCRATCH, name + ".stderr")
        self.log = open(self.log_path, "w")
        self.km = KernelManager(kernel_name="tortuga")
        self.km.shutdown_wait_time = TIMEOUT
        self.km.start_kernel(stderr=self.log)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT)

    def stderr(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def wait_for(self, msg_id, channel_get, msg_type=None):
        while True:
            m = channel_get(timeout=TIMEOUT)
            if m["parent_header"].get("msg_id") == msg_id and (msg_type is None or m["msg_type"] == msg_type):
                return m

    def iopub_until_idle(self, msg_id, first=()):
        msgs = list(first)
        if msgs and msgs[-1]["msg_type"] == "status" and msgs[-1]["content"]["execution_state"] == "idle":
            return msgs
        while True:
            m = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            msgs.append(m)
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                return msgs

    def execute(self, code, **kw):
        """Run code; returns the execute_reply content and the iopub messages (type, content) of the request."""
        msg_id = self.kc.execute(code, **kw)
        msgs = self.iopub_until_idle(msg_id)
        reply = self.wait_for(msg_id, self.kc.get_shell_msg)
        return reply["content"], [(m["msg_type"], m["content"]) for m in msgs]

    def shutdown(self):
        self.kc.stop_channels()
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=False)
        self.log.close()


def streams(msgs, name="stdout"):
    return "".join(c["text"] for t, c in msgs if t == "stream" and c["name"] == name)


def results(msgs, kind="execute_result"):
    return [c for t, c in msgs if t == kind]


class KernelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kernel("main")

    @classmethod
    def tearDownClass(cls):
        cls.k.shutdown()

    def execute_ok(self, code, **kw):
        reply, msgs = self.k.execute(code, **kw)
        self.assertEqual(reply["status"], "ok", reply)
        return reply, msgs

    def test_kernelspec_listed(self):
        run = subprocess.run([sys.executable, "-m", "jupyter_client.kernelspecapp", "list", "--json"],
                             capture_output=True, text=True, timeout=TIMEOUT)
        specs = json.loads(run.stdout)["kernelspecs"]
        self.assertIn("tortuga", specs)
        spec = specs["tortuga"]["spec"]
        self.assertEqual(spec["display_name"], "tortuga (Lua 5.4)")
        self.assertEqual(spec["language"], "lua")
        self.assertEqual(spec["argv"][1:], ["kernel", "-f", "{connection_file}"])
        self.assertTrue(os.path.samefile(spec["argv"][0], TORTUGA))
        folder = specs["tortuga"]["resource_dir"]
        with open(os.path.join(folder, "logo-32x32.png"), "rb") as f:
            self.assertEqual(png_size(base64.b64encode(f.read())), (32, 32))
        with open(os.path.join(folder, "logo-64x64.png"), "rb") as f:
            self.assertEqual(png_size(base64.b64encode(f.read())), (64, 64))

    def test_kernel_info(self):
        msg_id = self.k.kc.kernel_info()
        c = self.k.wait_for(msg_id, self.k.kc.get_shell_msg)["content"]
        self.assertEqual(c["status"], "ok")
        self.assertEqual(c["protocol_version"], "5.3")
        self.assertEqual(c["implementation"], "tortuga")
        self.assertEqual(c["language_info"]["name"], "lua")
        self.assertEqual(c["language_info"]["file_extension"], ".lua")

    def test_execute_stream_and_result(self):
        reply, msgs = self.execute_ok("print('hello', 6 * 7)\nanswer = 6 * 7\nanswer")
        self.assertEqual(streams(msgs), "hello\t42\n")
        res = results(msgs)
        self.assertEqual(len(res), 1)
        self.assertEqual(res[0]["data"]["text/plain"], "42")
        self.assertEqual(res[0]["execution_count"], reply["execution_count"])
        inputs = results(msgs, "execute_input")
        self.assertEqual(inputs[0]["execution_count"], reply["execution_count"])
        reply2, _ = self.execute_ok("answer + 1")
        self.assertEqual(reply2["execution_count"], reply["execution_count"] + 1)
        # silent runs do not count and show nothing
        reply3, msgs3 = self.execute_ok("print('quiet')", silent=True)
        self.assertEqual(reply3["execution_count"], reply2["execution_count"])
        self.assertEqual(results(msgs3, "execute_input"), [])

    def test_io_write_and_stderr(self):
        _, msgs = self.execute_ok("io.write('a', 1, ' ', 2.5, '\\n'); io.stderr:write('careful\\n'); "
                                  "io.stdout:write('b\\n')")
        self.assertEqual(streams(msgs), "a1 2.5\nb\n")
        self.assertEqual(streams(msgs, "stderr"), "careful\n")

    def test_semicolon_hides_the_value(self):
        _, msgs = self.execute_ok("x_hidden = 5;")
        self.assertEqual(results(msgs), [])
        _, msgs = self.execute_ok("x_hidden;")
        self.assertEqual(results(msgs), [])

    def test_error_with_traceback(self):
        reply, msgs = self.k.execute("local function inner()\n  error('boom')\nend\ninner()")
        self.assertEqual(reply["status"], "error")
        self.assertIn("boom", reply["evalue"])
        tb = "\n".join(reply["traceback"])
        self.assertIn("In[%d]:2: boom" % reply["execution_count"], tb)
        self.assertIn("stack traceback:", tb)
        self.assertIn("\tIn[%d]:2: in " % reply["execution_count"], tb)  # the frame of inner()
        self.assertIn("in function 'error'", tb)
        self.assertNotIn("kernel.lua", tb)
        err = results(msgs, "error")
        self.assertEqual(len(err), 1)
        self.assertEqual(err[0]["evalue"], reply["evalue"])
        self.execute_ok("return 1")  # still alive

    def test_syntax_error(self):
        reply, _ = self.k.execute("x = = 1")
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "SyntaxError")
        self.assertIn("unexpected symbol", reply["evalue"])

    def test_error_object_not_a_string(self):
        reply, _ = self.k.execute("error({code = 3})")
        self.assertEqual(reply["status"], "error")
        self.assertIn("table", reply["evalue"])

    def test_complete(self):
        msg_id = self.k.kc.complete("x = tg.meas", 11)
        c = self.k.wait_for(msg_id, self.k.kc.get_shell_msg)["content"]
        self.assertEqual(c["status"], "ok")
        self.assertIn("tg.measure", c["matches"])
        self.assertEqual((c["cursor_start"], c["cursor_end"]), (4, 11))
        self.execute_ok("vol_c = tg.volume.new{2, 2, 2}")
        msg_id = self.k.kc.complete("vol_c:co", 8)
        c = self.k.wait_for(msg_id, self.k.kc.get_shell_msg)["content"]
        self.assertIn("vol_c:copy", c["matches"])
        self.assertIn("vol_c:counts", c["matches"])
        msg_id = self.k.kc.complete("nothing_here_xyz.", 17)
        c = self.k.wait_for(msg_id, self.k.kc.get_shell_msg)["content"]
        self.assertEqual(c["matches"], [])

    def test_is_complete(self):
        cases = {"for i = 1, 3 do": "incomplete", "x = 1": "complete", "x = = 1": "invalid",
                 "f(": "incomplete", "tg.version": "complete", "": "complete",
                 "local t = {\n  1,": "incomplete"}
        for code, want in cases.items():
            msg_id = self.k.kc.is_complete(code)
            c = self.k.wait_for(msg_id, self.k.kc.get_shell_msg)["content"]
            self.assertEqual(c["status"], want, code)

    def test_inspect(self):
        # the doc comment is the `---` block right above `function M.cathode` in the source
        with open(os.path.join(SOURCE, "lua", "tortuga", "generate.lua")) as f:
            lines = f.read().split("\n")
        at = next(i for i, l in enumerate(lines) if l.startswith("function M.cathode("))
        first = at
        while first > 0 and lines[first - 1].startswith("--"):
            first -= 1
        while not lines[first].startswith("---"):
            first += 1
        doc_line = lines[first].lstrip("-").strip()
        code = "labels = tg.generate.cathode"
        msg_id = self.k.kc.inspect(code, len(code))
        c = self.k.wait_for(msg_id, self.k.kc.get_shell_msg)["content"]
        self.assertTrue(c["found"])
        text = c["data"]["text/plain"]
        self.assertIn("function M.cathode(opts)", text)
        self.assertIn(doc_line, text)
        self.assertIn("generate.lua:%d" % (at + 1), text)
        msg_id = self.k.kc.inspect("no_such_name_abc", 5)
        c = self.k.wait_for(msg_id, self.k.kc.get_shell_msg)["content"]
        self.assertFalse(c["found"])

    def test_input_request(self):
        msg_id = self.k.kc.execute("io.write('name? ')\nlocal name = io.read()\nreturn 'hi ' .. name",
                                   allow_stdin=True)
        req = self.k.wait_for(msg_id, self.k.kc.get_stdin_msg, "input_request")
        self.assertFalse(req["content"]["password"])
        self.k.kc.input("turtle")
        msgs = self.k.iopub_until_idle(msg_id)
        reply = self.k.wait_for(msg_id, self.k.kc.get_shell_msg)["content"]
        self.assertEqual(reply["status"], "ok")
        contents = [(m["msg_type"], m["content"]) for m in msgs]
        self.assertEqual(streams(contents), "name? ")
        self.assertEqual(results(contents)[0]["data"]["text/plain"], "hi turtle")
        # a frontend without input: io.read fails in the cell, not in the kernel
        reply, _ = self.k.execute("io.read()", allow_stdin=False)
        self.assertEqual(reply["status"], "error")
        self.assertIn("allow_stdin", reply["evalue"])

    def test_rich_volume(self):
        _, msgs = self.execute_ok("sample = tg.generate.cathode{size = {24, 20, 16}, seed = 1}\nsample")
        data = results(msgs)[0]["data"]
        self.assertEqual(png_size(data["image/png"]), (24, 20))
        self.assertIn("24 x 20 x 16 voxels", data["text/plain"])
        self.assertIn("u8", data["text/plain"])
        self.assertIn("100 nm", data["text/plain"])
        self.assertIn("slice z = 9 of 16", data["text/plain"])
        self.assertIn("labels in this slice", data["text/plain"])
        # a grey image: f32 values, scaled to the slice's range
        _, msgs = self.execute_ok("g = sample:astype('f32')\ntg.display(g, 'done')")
        shown = results(msgs, "display_data")
        self.assertEqual(len(shown), 2)
        self.assertEqual(png_size(shown[0]["data"]["image/png"]), (24, 20))
        self.assertIn("grey from 0 (black) to 2 (white)", shown[0]["data"]["text/plain"])
        self.assertEqual(shown[1]["data"], {"text/plain": "done"})

    def test_rich_table(self):
        _, msgs = self.execute_ok("tg.measure.fractions((tg.generate.cathode{size = {16, 16, 16}, seed = 2}))")
        data = results(msgs)[0]["data"]
        self.assertIn("<table", data["text/html"])
        self.assertIn("units", data["text/html"])
        self.assertIn("units", data["text/plain"])
        _, msgs = self.execute_ok("{ {name = 'a', n = 1}, {name = 'b<', n = 2} }")
        html = results(msgs)[0]["data"]["text/html"]
        self.assertIn("<th>n</th><th>name</th>", html)
        self.assertIn("<td>b&lt;</td>", html)

    def wait_started(self, msg_id):
        """The iopub messages up to the cell's execute_input: the kernel has begun the cell."""
        seen = []
        while True:
            m = self.k.kc.get_iopub_msg(timeout=TIMEOUT)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            seen.append(m)
            if m["msg_type"] == "execute_input":
                return seen

    def interrupted(self, code, how):
        msg_id = self.k.kc.execute(code)
        seen = self.wait_started(msg_id)
        if how == "signal":
            self.k.km.signal_kernel(signal.SIGINT)  # to the kernel's process group, as Ctrl-C would
        elif how == "manager":
            self.k.km.interrupt_kernel()  # the kernelspec's interrupt_mode: "message"
        else:
            req = self.k.kc.session.msg("interrupt_request", {})
            self.k.kc.control_channel.send(req)
        msgs = self.k.iopub_until_idle(msg_id, seen)
        reply = self.k.wait_for(msg_id, self.k.kc.get_shell_msg)["content"]
        if how == "client":
            rep = self.k.wait_for(req["header"]["msg_id"], self.k.kc.get_control_msg)
            self.assertEqual(rep["content"]["status"], "ok")
        self.assertEqual(reply["status"], "error")
        self.assertIn("interrupted", reply["evalue"])
        self.assertEqual(reply["ename"], "Interrupted")
        self.assertTrue(any(m["msg_type"] == "error" for m in msgs))
        _, after = self.execute_ok("return 40 + 2")  # alive, and the next cell is not interrupted
        self.assertEqual(results(after)[0]["data"]["text/plain"], "42")

    WALK = "require('tortuga.transport').random_walk(walk_v, {phase = 1, walkers = 200000, steps = 100000})"

    def test_interrupt_engine_by_message(self):
        self.execute_ok("walk_v = tg.generate.cathode{size = {32, 32, 32}, seed = 1}")
        self.interrupted(self.WALK, "manager")
        self.interrupted(self.WALK, "client")

    def test_interrupt_engine_by_signal(self):
        # one engine call, so the single SIGINT lands either in Lua (the hook) or in the operation (the flag)
        self.interrupted("tg.generate.cathode{size = {300, 300, 300}, seed = 1}", "signal")

    def test_interrupt_lua_loop(self):
        loop = "local n = 0\nwhile true do n = n + 1 end"
        self.interrupted(loop, "signal")
        self.interrupted(loop, "manager")
        # a pcall inside the cell that swallows the first "interrupted!" does not keep the cell running:
        # the interrupt is repeated until the cell ends
        swallow = "pcall(function() while true do end end)\nlocal n = 0\nwhile true do n = n + 1 end"
        self.interrupted(swallow, "manager")
        self.interrupted(swallow, "signal")

    def test_interrupt_while_idle_is_harmless(self):
        km = self.k.km
        km.interrupt_kernel()
        # the control and shell channels are not ordered with each other: wait for the interrupt_reply, or a
        # request still in flight could reach the kernel after the next cell has started (and rightly stop it)
        sock = km._control_socket
        self.assertTrue(sock.poll(60000), "no interrupt_reply")
        _, reply = km.session.recv(sock)
        self.assertEqual(reply["header"]["msg_type"], "interrupt_reply")
        km.signal_kernel(signal.SIGINT)
        # a signal has no reply: on a loaded machine it can reach a thread of the kernel (an OpenMP worker) only
        # after the next cell has started, and then it stops that cell, as it would in any kernel. What must hold
        # is that the kernel survives and the cells after it run.
        for _ in range(3):
            reply, msgs = self.k.execute("return 'still here'")
            if reply["status"] == "ok":
                break
            self.assertEqual(reply["ename"], "Interrupted", reply)
        self.assertEqual(reply["status"], "ok", reply)
        self.assertEqual(results(msgs)[0]["data"]["text/plain"], "still here")

    def test_large_output(self):
        n = 100000
        _, msgs = self.execute_ok("for i = 1, %d do print(i) end" % n)
        pieces = [c["text"] for t, c in msgs if t == "stream"]
        self.assertEqual("".join(pieces), "".join("%d\n" % i for i in range(1, n + 1)))
        self.assertGreater(len(pieces), 1)
        self.assertTrue(all(len(p.encode()) <= 64 * 1024 for p in pieces))
        # past the per-cell limit the rest is counted, not sent
        _, msgs = self.execute_ok("local s = string.rep('x', 1023) .. '\\n'\nfor i = 1, 5000 do io.write(s) end")
        out = streams(msgs)
        self.assertEqual(len(out), 4 * 1024 * 1024)
        self.assertIn("bytes of output not shown", streams(msgs, "stderr"))
        # bytes that are not UTF-8 arrive as U+FFFD instead of breaking the message
        _, msgs = self.execute_ok("print('a\\255b')")
        self.assertEqual(streams(msgs), "a\ufffdb\n")

    def raw_socket(self):
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        info = self.k.km.get_connection_info()
        sock.connect("%s://%s:%d" % (info["transport"], info["ip"], info["shell_port"]))
        return sock

    def test_wrong_signature_is_refused(self):
        sock = self.raw_socket()
        try:
            good = Session(key=self.k.km.session.key, signature_scheme="hmac-sha256")
            bad = Session(key=b"not-the-key", signature_scheme="hmac-sha256")
            self.assertNotEqual(bad.key, good.key)
            bad.send(sock, "execute_request", {"code": "hacked = true", "silent": False, "store_history": True,
                                               "user_expressions": {}, "allow_stdin": False})
            sock.send_multipart([b"no delimiter here", b"{}"])  # malformed: refused too
            good.send(sock, "frobnicate_request", {})  # unknown type: logged and ignored
            msg = good.send(sock, "execute_request", {"code": "", "silent": True, "store_history": False,
                                                      "user_expressions": {"h": "hacked == nil"},
                                                      "allow_stdin": False})
            # replies come in the order the kernel handled the messages from this socket
            if not sock.poll(TIMEOUT * 1000):
                self.fail("no reply from the kernel")
            _, reply = good.recv(sock)
            self.assertEqual(reply["parent_header"]["msg_id"], msg["header"]["msg_id"])
            self.assertEqual(reply["content"]["user_expressions"]["h"]["data"]["text/plain"], "true")
        finally:
            sock.close()
        log = self.k.stderr()
        self.assertIn("refused a message on the shell channel: bad signature", log)
        self.assertIn("refused a message on the shell channel: malformed message", log)
        self.assertIn("unknown message type 'frobnicate_request'", log)
        self.execute_ok("return 1")

    def test_replayed_message_runs_once(self):
        """A signed message sent again byte for byte (a replay) is refused: its code runs once."""
        sock = self.raw_socket()
        try:
            good = Session(key=self.k.km.session.key, signature_scheme="hmac-sha256")
            self.execute_ok("replays = 0")
            msg = good.msg("execute_request", {"code": "replays = replays + 1", "silent": False,
                                               "store_history": False, "user_expressions": {},
                                               "allow_stdin": False})
            frames = good.serialize(msg)
            sock.send_multipart(frames)
            if not sock.poll(TIMEOUT * 1000):
                self.fail("no reply from the kernel")
            good.recv(sock)
            sock.send_multipart(frames)  # the same bytes again: the same signature
            check = good.send(sock, "execute_request", {"code": "", "silent": True, "store_history": False,
                                                        "user_expressions": {"n": "replays"},
                                                        "allow_stdin": False})
            if not sock.poll(TIMEOUT * 1000):
                self.fail("no reply from the kernel")
            _, reply = good.recv(sock)
            self.assertEqual(reply["parent_header"]["msg_id"], check["header"]["msg_id"])
            self.assertEqual(reply["content"]["user_expressions"]["n"]["data"]["text/plain"], "1")
        finally:
            sock.close()
        self.assertIn("refused a message on the shell channel: a replayed message (its signature was seen before)",
                      self.k.stderr())


class LifecycleTest(unittest.TestCase):
    def test_restart(self):
        k = Kernel("restart")
        try:
            k.execute("kept = 1")
            pid = k.km.provisioner.process.pid
            k.km.restart_kernel(now=False)
            k.kc.wait_for_ready(timeout=TIMEOUT)
            self.assertNotEqual(k.km.provisioner.process.pid, pid)
            reply, msgs = k.execute("return kept == nil")
            self.assertEqual(reply["execution_count"], 1)
            self.assertEqual(results(msgs)[0]["data"]["text/plain"], "true")
        finally:
            k.shutdown()

    def test_shutdown(self):
        k = Kernel("shutdown")
        proc = k.km.provisioner.process
        msg_id = k.kc.shutdown()
        reply = k.wait_for(msg_id, k.kc.get_control_msg)
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(proc.wait(timeout=TIMEOUT), 0)  # it left on its own, with status 0
        k.shutdown()

    def run_kernel(self, conn):
        return subprocess.run([TORTUGA, "kernel", "-f", conn], capture_output=True, text=True, timeout=TIMEOUT)

    def test_bad_connection_files(self):
        missing = os.path.join(SCRATCH, "missing.json")
        run = self.run_kernel(missing)
        self.assertEqual(run.returncode, 1)
        self.assertIn("missing.json", run.stderr)
        bad = os.path.join(SCRATCH, "bad.json")
        with open(bad, "w") as f:
            f.write("{ not json")
        run = self.run_kernel(bad)
        self.assertEqual(run.returncode, 1)
        self.assertIn("not a JSON object", run.stderr)
        with open(bad, "w") as f:
            json.dump({"ip": "127.0.0.1", "transport": "tcp", "key": "k", "shell_port": 1}, f)
        run = self.run_kernel(bad)
        self.assertEqual(run.returncode, 1)
        self.assertIn("iopub_port", run.stderr)

    def test_empty_key_warns(self):
        """An empty key is allowed by the protocol, but the kernel says it runs unauthenticated."""
        ports = []
        for _ in range(5):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            ports.append(s)
        nums = [s.getsockname()[1] for s in ports]
        for s in ports:
            s.close()
        conn = os.path.join(SCRATCH, "nokey.json")
        with open(conn, "w") as f:
            json.dump({"ip": "127.0.0.1", "transport": "tcp", "key": "", "signature_scheme": "hmac-sha256",
                       "shell_port": nums[0], "iopub_port": nums[1], "stdin_port": nums[2],
                       "control_port": nums[3], "hb_port": nums[4]}, f)
        proc = subprocess.Popen([TORTUGA, "kernel", "-f", conn], stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stderr.readline()
        finally:
            proc.terminate()
            proc.wait(timeout=TIMEOUT)
        self.assertIn("the connection file has an empty key: messages are NOT authenticated", line)

    def test_port_in_use(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        free = []
        for _ in range(4):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            free.append(s)
        ports = [s.getsockname()[1] for s in free]
        for s in free:
            s.close()
        conn = os.path.join(SCRATCH, "busy.json")
        with open(conn, "w") as f:
            json.dump({"ip": "127.0.0.1", "transport": "tcp", "key": "k", "signature_scheme": "hmac-sha256",
                       "shell_port": port, "iopub_port": ports[0], "stdin_port": ports[1],
                       "control_port": ports[2], "hb_port": ports[3]}, f)
        try:
            run = self.run_kernel(conn)
        finally:
            busy.close()
        self.assertEqual(run.returncode, 1)
        self.assertIn("cannot bind the shell socket to tcp://127.0.0.1:%d" % port, run.stderr)
        self.assertIn("in use", run.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    TORTUGA = os.path.abspath(sys.argv[1])
    SOURCE = os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[3:])
