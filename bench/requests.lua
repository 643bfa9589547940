-- wrk script: each request is the next of a list the bench wrote (bench/load.py), so that
-- a run spreads over every user and credential of the list, as traffic does in life.
-- Arguments: the list's file (a Lua chunk returning {method, path, headers, body} tables),
-- the number of threads, and where in the list this run starts (so that short runs in a
-- row do not all send its first part); each thread starts at its own share of the list.

local requests = {}
local position = 1
local started = 0

function setup(thread)
   thread:set("thread_index", started)
   started = started + 1
end

function init(args)
   local list = dofile(args[1])
   for i, r in ipairs(list) do
      requests[i] = wrk.format(r[1], r[2], r[3], r[4])
   end
   local threads = tonumber(args[2]) or 1
   local start = tonumber(args[3]) or 0
   position = (start + thread_index * math.floor(#requests / threads)) % #requests + 1
end

function request()
   local r = requests[position]
   position = position % #requests + 1
   return r
end
