--- tortuga.cmdline — the argument parsing that `tortuga kernel` and `tortuga notebook` share: one parser, one
-- answer to a usage error (status 2) and to --help (status 0).
--
--   cmdline.parse(args, flags) --> options, positionals | nil, message
--       flags = {name = "flag" | "value"}; -name, --name, --name=value, -h / --help (options.help)
--   cmdline.parse_cmd(args, flags, prog, help, usage, out, err) --> options, positionals | nil, status
--       prints "prog: message / Try 'help --help'." on err, or usage on out, when it returns nil
local M = {}

-- Parse args: flags {name = "flag" | "value"}; returns options, positionals or nil, message.
function M.parse(args, flags)
  local o, pos = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then
      o.help = true
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      local name, value = a:match("^%-%-?([%w%-]+)=(.*)$")
      name = name or a:match("^%-%-?([%w%-]+)$")
      local kind = name and flags[name]
      if not kind then return nil, string.format("unknown option '%s'", a) end
      if kind == "value" and value == nil then
        i = i + 1
        value = args[i]
        if value == nil then return nil, string.format("option '%s' needs a value", a) end
      end
      o[name] = kind == "flag" or value
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return o, pos
end

-- Parse a subcommand's arguments; on a usage error or --help, answer and return nil and the exit status.
-- prog names the command in messages ("tortuga kernel install"), help the command whose --help to suggest.
function M.parse_cmd(args, spec, prog, help, usage, out, err)
  local o, pos = M.parse(args, spec)
  if not o then
    err:write(prog, ": ", pos, "\n", "Try '", help, " --help'.\n")
    return nil, 2
  end
  if o.help then
    out:write(usage)
    return nil, 0
  end
  return o, pos
end

return M
