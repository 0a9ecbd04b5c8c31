#!/usr/bin/python3
"""Every notebook in notebooks/ runs in Jupyter: converted to .ipynb by `tortuga notebook convert`, executed
by Debian's python3-nbclient with the tortuga kernel on a small size (TORTUGA_NOTEBOOK_SIZE), rendered by
`jupyter nbconvert --to html`.

usage: test_notebooks.py TORTUGA_EXECUTABLE SOURCE_DIR

Checked for each notebook: the text form converts to a valid nbformat 4 notebook and back without change
(text -> ipynb -> text -> ipynb gives the same ipynb), every cell runs without error, the outputs hold at
least one PNG, and the HTML page shows the outputs with the PNG inline. For quickstart.lua the printed
volume fractions are compared with the same numbers computed by a plain tortuga script. Exit status 77
(skipped) when nbclient, nbformat or nbconvert is missing.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import nbclient
    import nbformat
    import nbconvert  # noqa: F401  (jupyter nbconvert needs it)
except ImportError as e:  # pragma: no cover - depends on the machine
    print("skipped: %s (install python3-nbclient, python3-nbformat, jupyter-nbconvert)" % e)
    sys.exit(77)

TIMEOUT = 900  # seconds per cell and per command: generous, the machine may be loaded
SIZE = "40"
TORTUGA = None
SOURCE = None
SCRATCH = None


def tortuga(*args):
    run = subprocess.run([TORTUGA] + list(args), capture_output=True, text=True, timeout=TIMEOUT)
    if run.returncode != 0:
        raise AssertionError("tortuga %s failed (%d): %s%s" % (" ".join(args), run.returncode, run.stdout,
                                                              run.stderr))
    return run.stdout


def setUpModule():
    global SCRATCH
    if os.environ.get("TMPDIR"):
        os.makedirs(os.environ["TMPDIR"], exist_ok=True)
    SCRATCH = tempfile.mkdtemp(prefix="tortuga-notebook-test-", dir=os.environ.get("TMPDIR"))
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"),
                     ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython")):
        os.environ[var] = os.path.join(SCRATCH, sub)
    os.environ["JUPYTER_PATH"] = os.path.join(SCRATCH, "share", "jupyter")
    os.environ["TORTUGA_NOTEBOOK_SIZE"] = SIZE  # the kernels nbclient starts inherit it
    tortuga("kernel", "install", "--prefix", SCRATCH)


def tearDownModule():
    shutil.rmtree(SCRATCH, ignore_errors=True)


def outputs_text(nb):
    """All text of the code cells' outputs, and the number of PNG images among them."""
    text, pngs = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text.append(out["text"])
            elif out.get("output_type") == "error":
                text.append("\n".join(out["traceback"]))
            for mime, value in out.get("data", {}).items():
                if mime == "image/png":
                    pngs += 1
                elif isinstance(value, str):
                    text.append(value)
    return "\n".join(text), pngs


def quickstart_expected():
    """The lines quickstart.lua prints, from a plain script with the same generator call."""
    script = ('local tg = require "tortuga"\n'
              'local labels = tg.generate.cathode { size = { %s, %s, %s }, seed = 1 }\n'
              'local f = tg.measure.fractions(labels)\n'
              'for _, p in ipairs{ {"pore", 0}, {"cam", 1}, {"ise", 2} } do\n'
              '  print(string.format("%%-4s %%6.2f %%%%", p[1], 100 * f[p[2]]))\n'
              'end\n') % (SIZE, SIZE, SIZE)
    path = os.path.join(SCRATCH, "expected.lua")
    with open(path, "w") as f:
        f.write(script)
    return tortuga(path).splitlines()


class NotebookTest(unittest.TestCase):
    def check_notebook(self, path):
        name = os.path.splitext(os.path.basename(path))[0]
        work = os.path.join(SCRATCH, name)
        os.makedirs(work, exist_ok=True)
        ipynb = os.path.join(work, name + ".ipynb")
        back = os.path.join(work, name + ".back.lua")
        again = os.path.join(work, name + ".again.ipynb")
        tortuga("notebook", "convert", path, ipynb)
        tortuga("notebook", "convert", ipynb, back)
        tortuga("notebook", "convert", back, again)
        with open(ipynb) as a, open(again) as b:
            self.assertEqual(a.read(), b.read(), "text -> ipynb -> text -> ipynb changed %s" % name)

        nb = nbformat.read(ipynb, as_version=4)
        nbformat.validate(nb)
        self.assertEqual(nb.metadata.kernelspec.name, "tortuga")
        self.assertTrue(any(c.cell_type == "markdown" for c in nb.cells))
        client = nbclient.NotebookClient(nb, timeout=TIMEOUT, startup_timeout=TIMEOUT, kernel_name="tortuga",
                                         resources={"metadata": {"path": work}})
        client.execute()  # raises CellExecutionError when a cell fails
        executed = os.path.join(work, name + ".executed.ipynb")
        nbformat.write(nb, executed)
        text, pngs = outputs_text(nb)
        self.assertGreaterEqual(pngs, 1, "%s shows no PNG" % name)
        for cell in nb.cells:
            if cell.cell_type == "code":
                self.assertIsNotNone(cell.execution_count)

        run = subprocess.run(["jupyter", "nbconvert", "--to", "html", "--output-dir", work, executed],
                             capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(run.returncode, 0, run.stderr)
        with open(os.path.join(work, name + ".executed.html"), encoding="utf-8") as f:
            html = f.read()
        self.assertIn("data:image/png;base64,", html)
        return text, html

    def test_every_notebook(self):
        paths = sorted(glob.glob(os.path.join(SOURCE, "notebooks", "*.lua")))
        self.assertIn(os.path.join(SOURCE, "notebooks", "quickstart.lua"), paths)
        for path in paths:
            with self.subTest(notebook=os.path.basename(path)):
                text, html = self.check_notebook(path)
                if path.endswith("quickstart.lua"):
                    expected = quickstart_expected()
                    self.assertEqual(len(expected), 3)
                    for line in expected:
                        self.assertIn(line, text)
                        self.assertIn(line, html)
                    self.assertIn("%s x %s x %s voxels (x, y, z), u8, spacing 100 nm" % (SIZE, SIZE, SIZE), text)
                    self.assertIn("<table", text)  # the rows as an HTML table
                    self.assertIn("<td>cam</td>", html)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    TORTUGA = os.path.abspath(sys.argv[1])
    SOURCE = os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[3:])
