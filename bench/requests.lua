-- wrk script: each request is the next of a list the bench wrote (bench/load.py), so that
-- a run spreads over every user and credential of the list, as traffic does in life.
-- Arguments: the list's file (a Lua chunk returning {method, path, headers, body} tables),
-- the number of threads, where in the list this run starts (so that short runs in a row do
-- not all send its first part), and "once" for requests that work once (DPoP proofs): each
-- thread sends its own share of the list once, and stops at its end.

local requests = {}
local threads = {}
local position = 1
local last = 0
local once = false
exhausted = 0

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function init(args)
   local list = dofile(args[1])
   for i, r in ipairs(list) do
      requests[i] = wrk.format(r[1], r[2], r[3], r[4])
   end
   local share = math.floor(#requests / (tonumber(args[2]) or 1))
   once = args[4] == "once"
   if once then
      position = thread_index * share + 1
      last = position + share - 1
   else
      position = ((tonumber(args[3]) or 0) + thread_index * share) % #requests + 1
   end
end

function request()
   local r = requests[position]
   if not once then
      position = position % #requests + 1
   elseif position < last then
      position = position + 1
   else
      -- What is sent once the share is spent repeats it: the run is made again anyway.
      exhausted = 1
      wrk.thread:stop()
   end
   return r
end

function done(summary, latency, requests)
   for _, thread in ipairs(threads) do
      if thread:get("exhausted") == 1 then
         io.write("requests exhausted\n")
      end
   end
end
