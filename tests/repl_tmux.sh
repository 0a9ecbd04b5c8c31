#!/bin/sh
# repl_tmux.sh TORTUGA_EXE — drive the live tortuga REPL in a tmux pane, as a person would, and check the
# screen: an expression, a multi-line function, an error followed by a working command, tab completion of
# tg.vol, Ctrl-C at the prompt (clears the line), during a running loop and during an engine operation with its
# progress bar (interrupts it), the history
# file, and Ctrl-D (exits with status 0). Exits 77 (skipped) when tmux is not installed.
set -u
EXE=${1:?usage: repl_tmux.sh TORTUGA_EXE}
command -v tmux >/dev/null 2>&1 || { echo "SKIP: tmux not installed"; exit 77; }

unset TMUX TMUX_PANE
mkdir -p "${TMPDIR:-/tmp}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tg_repl.XXXXXX") || exit 1
SOCK="tg_repl_$$"
T="tmux -L $SOCK -f /dev/null"
cleanup() { $T kill-server >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

passed=0
failed=0
screen() { $T capture-pane -p -J -t repl -S -200 2>/dev/null; }
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    echo "--- screen ---"; screen; echo "--------------"
}
# wait_for PATTERN DESCRIPTION: poll the screen (grep -E) for up to 10 s
wait_for() {
    i=0
    while [ $i -lt 100 ]; do
        if screen | grep -Eq -- "$1"; then ok "$2"; return 0; fi
        sleep 0.1
        i=$((i + 1))
    done
    not_ok "$2 (no match for: $1)"
    return 1
}
# wait_last PATTERN DESCRIPTION: poll until the last non-empty line of the screen matches (the cursor line)
wait_last() {
    i=0
    while [ $i -lt 100 ]; do
        if screen | grep -v '^$' | tail -n 1 | grep -Eq -- "$1"; then ok "$2"; return 0; fi
        sleep 0.1
        i=$((i + 1))
    done
    not_ok "$2 (last line does not match: $1)"
    return 1
}
type_line() { $T send-keys -t repl -l -- "$1"; $T send-keys -t repl Enter; }

# A clean environment: history in the scratch dir, no LUA_INIT, a fixed terminal size.
$T new-session -d -s repl -x 120 -y 50 \
    "env -u LUA_INIT -u LUA_INIT_5_4 HOME='$WORK' TORTUGA_HISTORY='$WORK/history' TERM=xterm '$EXE'; echo \"EXITED rc=\$?\"; sleep 60"

wait_for '^tortuga [0-9.]+ \(Lua 5\.4' "banner with version"
wait_last '^tg> $' "first prompt"

type_line '6 * 7'
wait_for '^42$' "an expression prints its value"

type_line 'function sq(x)'
wait_last '^\.\.> $' "continuation prompt after an incomplete statement"
type_line '  return x * x'
type_line 'end'
type_line 'sq(12)'
wait_for '^144$' "a multi-line function is defined and called"

type_line 'error("deliberate failure")'
wait_for 'stdin:1: deliberate failure' "an error prints its message"
wait_for 'stack traceback' "a runtime error prints a traceback"
type_line '"still" .. " alive"'
wait_for '^still alive$' "the session goes on after an error"

type_line '{b = {1, 2, 3}, a = 0.5}'
wait_for '^\{ a = 0\.5, b = \{ 1, 2, 3 \} \}$' "tables print with sorted keys"

$T send-keys -t repl -l 'tg.vol'
$T send-keys -t repl Tab
wait_for '^tg> tg\.volume$' "Tab completes tg.vol to tg.volume"
$T send-keys -t repl -l '.ne'
$T send-keys -t repl Tab
wait_for '^tg> tg\.volume\.new$' "Tab completes tg.volume.ne to tg.volume.new"
$T send-keys -t repl -l '{4, 3, 2}'
$T send-keys -t repl Enter
wait_for '^tortuga\.Volume\(4x3x2 u8' "a volume prints by its __tostring"

: > "$WORK/stack_xyz.tif"
$T send-keys -t repl -l "name = \"$WORK/stack_x"
$T send-keys -t repl Tab
$T send-keys -t repl Enter
$T send-keys -t repl -l 'name:match("[^/]*$")'
$T send-keys -t repl Enter
wait_for '^stack_xyz\.tif$' "Tab inside a string completes a file name"

type_line 'for i = 1, 3 do'
wait_last '^\.\.> $' "a second incomplete statement waits for more"
$T send-keys -t repl C-c
wait_for '^\.\.> \^C$' "Ctrl-C at the continuation prompt abandons the statement"

$T send-keys -t repl -l 'this line is abandoned'
wait_last '^tg> this line is abandoned$' "a line typed at the prompt"
$T send-keys -t repl C-c
wait_for '^tg> this line is abandoned\^C$' "Ctrl-C at the prompt abandons the line"
type_line 'print("looping") while true do end'
wait_for '^looping$' "a long loop starts"
$T send-keys -t repl C-c
wait_for 'interrupted!' "Ctrl-C interrupts a running loop"
type_line '1 + 1'
wait_for '^2$' "the session goes on after an interrupt"

# an engine operation: a progress bar on the terminal, and Ctrl-C cancels it and returns to the prompt
type_line 'big = tg.generate.cathode{size = {500, 500, 500}, seed = 2}'
wait_for '\[#*\.+\] +[0-9]+%' "a long engine operation draws a progress bar"
$T send-keys -t repl C-c
wait_for 'interrupted' "Ctrl-C cancels a running engine operation"
wait_last '^tg> $' "the prompt comes back after the cancelled operation"
type_line 'print(big == nil, tg.generate.cathode{size = {20, 20, 20}})'
wait_for '^true\s+tortuga\.Volume\(20x20x20 u8' "no half result is left, and the engine works after a cancel"

$T send-keys -t repl C-d
wait_for '^EXITED rc=0$' "Ctrl-D exits with status 0"

if grep -q '^6 \* 7$' "$WORK/history" && grep -q '^sq(12)$' "$WORK/history"; then
    ok "the history file keeps the lines"
else
    not_ok "the history file keeps the lines"
    cat "$WORK/history" 2>/dev/null
fi
if grep -q 'abandoned' "$WORK/history"; then not_ok "a line abandoned with Ctrl-C is not in the history"
else ok "a line abandoned with Ctrl-C is not in the history"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
