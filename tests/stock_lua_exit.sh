#!/bin/sh
# Stock lua5.4 must exit cleanly after threaded work, every time (issue 14: it segfaulted in most runs when
# lua_close unloaded core.so, and the OpenMP runtime with it, under OpenMP's idle worker threads).
# Usage: stock_lua_exit.sh <tortuga executable> <runs>
exe=$1
runs=${2:-50}
lua=$(command -v lua5.4) || { echo "stock_lua_exit: lua5.4 is not installed (tools/setup.sh installs it)"; exit 1; }
eval "$("$exe" --paths)" || exit 1
# two threads at least (the default is one per core); every other run keeps OpenMP's idle workers spinning,
# which is when an unloaded runtime crashes most surely
code='local tg = require "tortuga"
if tg.threads() < 2 then tg.threads(2) end
local v = tg.generate.cathode { size = { 24, 24, 24 }, seed = 3 }
assert(v:stats().max == 2)'
failed=0
i=1
while [ "$i" -le "$runs" ]; do
  if [ $((i % 2)) -eq 0 ]; then OMP_WAIT_POLICY=active "$lua" -e "$code"; else "$lua" -e "$code"; fi
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "stock_lua_exit: run $i of $runs exited with status $rc"
    failed=$((failed + 1))
  fi
  i=$((i + 1))
done
echo "stock_lua_exit: $runs runs, $failed failed"
[ "$failed" -eq 0 ]
