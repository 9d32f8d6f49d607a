%% The Mnesia side of bench/store.py: the same tables and operations as runic's MnesiaStore,
%% on real Mnesia, so both can be measured side by side on one machine.
%%
%% One VM run is one cell (bench/store.py starts a fresh VM with a fresh Mnesia dir for each):
%%
%%   erl -noshell -pa EBIN -mnesia dir '"DIR"' -run mnesia_bench main STORAGE PHASE ARGS...
%%
%% STORAGE is ram_copies or disc_copies. Phases (results are printed as one line
%% "RESULT key=value ..."):
%%
%%   append K N CAP_MS WRITERS  WRITERS processes append N times K events (one
%%                              mnesia:transaction each) to their own workflow, until CAP_MS
%%   stream EVENTS REPEATS      append EVENTS as EVENTS/10 x 10, then time stream/1 REPEATS times
%%   blobfact SAVES FACTS       SAVES saves and loads of a 1,000-event log; FACTS save_fact and
%%                              load_fact calls
%%   durwrite K ACKFILE         append K events forever; after each append returns, write the
%%                              cursor to ACKFILE (raw file, one write(2) per ack). Killed by -9.
%%   durcheck K                 reopen and check the workflow durwrite wrote: counter, events
-module(mnesia_bench).
-export([main/1]).

-define(WF(N), list_to_binary(io_lib:format("wf-~8..0B-0000-0000-0000-000000000000", [N]))).

main([Storage0, Phase | Args]) ->
    Storage = list_to_atom(Storage0),
    setup(Storage),
    Result = run(list_to_atom(Phase), Args),
    io:format("RESULT ~s~n", [Result]),
    halt(0).

setup(Storage) ->
    case Storage of
        disc_copies ->
            case mnesia:create_schema([node()]) of
                ok -> ok;
                {error, {_, {already_exists, _}}} -> ok
            end;
        ram_copies -> ok
    end,
    ok = mnesia:start(),
    Tabs = [{'WorkflowStore', set, [workflow_id, log, updated_at]},
            {'EventStream', ordered_set, [key, event]},
            {'EventCounters', set, [workflow_id, count]},
            {'FactStore', set, [fact_hash, value]}],
    lists:foreach(
      fun({Name, Type, Attrs}) ->
              case mnesia:create_table(Name, [{type, Type}, {attributes, Attrs}, {Storage, [node()]}]) of
                  {atomic, ok} -> ok;
                  {aborted, {already_exists, Name}} -> ok
              end
      end, Tabs),
    ok = mnesia:wait_for_tables([N || {N, _, _} <- Tabs], 15000).

%% ---------------------------------------------------------------- the store operations

append(Wf, Events) ->
    {atomic, Cursor} =
        mnesia:transaction(
          fun() ->
                  Cur = case mnesia:read('EventCounters', Wf) of
                            [{_, _, N}] -> N;
                            [] -> 0
                        end,
                  New = Cur + length(Events),
                  ok = mnesia:write({'EventCounters', Wf, New}),
                  lists:foldl(fun(E, S) -> ok = mnesia:write({'EventStream', {Wf, S}, E}), S + 1 end,
                              Cur + 1, Events),
                  New
          end),
    Cursor.

stream(Wf) ->
    case mnesia:dirty_read('EventCounters', Wf) of
        [] -> not_found;
        [{_, _, Count}] -> read_seq(Wf, 1, Count, [])
    end.

read_seq(_Wf, S, Count, Acc) when S > Count -> lists:reverse(Acc);
read_seq(Wf, S, Count, Acc) ->
    case mnesia:dirty_read('EventStream', {Wf, S}) of
        [{_, _, E}] -> read_seq(Wf, S + 1, Count, [E | Acc]);
        [] -> lists:reverse(Acc)
    end.

save(Wf, Log) ->
    {atomic, ok} = mnesia:transaction(
                     fun() -> mnesia:write({'WorkflowStore', Wf, Log, erlang:monotonic_time(millisecond)}) end),
    ok.

load(Wf) ->
    [{_, _, Log, _}] = mnesia:dirty_read('WorkflowStore', Wf),
    Log.

save_fact(H, V) ->
    {atomic, ok} = mnesia:transaction(fun() -> mnesia:write({'FactStore', H, V}) end),
    ok.

load_fact(H) ->
    [{_, _, V}] = mnesia:dirty_read('FactStore', H),
    V.

%% An event like runic's FactProduced (an Elixir-struct-like map).
event(I) ->
    #{'__struct__' => 'Elixir.Runic.Workflow.Events.FactProduced',
      hash => (16#8000000000000000 + I * 7919) band 16#FFFFFFFFFFFFFFFF,
      value => #{order_id => I, status => <<"approved">>, customer => <<"cust-00042">>,
                 amount_cents => (1299 * I) rem 100000, currency => <<"EUR">>, channel => <<"web">>},
      ancestry => {16#4000000000000000 + I, 16#2000000000000000 + 7 * I},
      producer => produced,
      generation => I rem 7,
      weight => 1}.

%% ---------------------------------------------------------------- phases

now_ns() -> erlang:monotonic_time(nanosecond).

pct(Sorted, P) ->
    N = length(Sorted),
    K = max(1, min(N, round(P / 100 * N))),
    lists:nth(K, Sorted).

run(append, [K0, N0, Cap0, W0]) ->
    [K, N, Cap, W] = [list_to_integer(X) || X <- [K0, N0, Cap0, W0]],
    Batches = list_to_tuple([[event(B * 100 + J) || J <- lists:seq(1, K)] || B <- lists:seq(0, 63)]),
    [append(<<"warm">>, element(1 + I rem 64, Batches)) || I <- lists:seq(1, 500)],
    Parent = self(),
    Pids = [spawn_link(fun() ->
                               receive go -> ok end,
                               Deadline = now_ns() + Cap * 1000000,
                               Lat = writer(?WF(Wi), Batches, 0, N, Deadline, []),
                               Parent ! {done, self(), Lat, now_ns()}
                       end) || Wi <- lists:seq(1, W)],
    T0 = now_ns(),
    [P ! go || P <- Pids],
    Results = [receive {done, P, Lat, End} -> {Lat, End} end || P <- Pids],
    Wall = lists:max([E || {_, E} <- Results]) - T0,
    All = lists:sort(lists:append([L || {L, _} <- Results])),
    Txns = length(All),
    io_lib:format("txns=~B wall_ns=~B p50_ns=~B p99_ns=~B events=~B",
                  [Txns, Wall, pct(All, 50), pct(All, 99), Txns * K]);

run(stream, [E0, R0]) ->
    [Events, Repeats] = [list_to_integer(X) || X <- [E0, R0]],
    Wf = ?WF(1),
    [append(Wf, [event(B * 10 + J) || J <- lists:seq(1, 10)]) || B <- lists:seq(0, Events div 10 - 1)],
    Times = lists:sort([begin T = now_ns(), L = stream(Wf), Events = length(L), now_ns() - T end
                        || _ <- lists:seq(1, Repeats)]),
    io_lib:format("events=~B median_ns=~B", [Events, pct(Times, 50)]);

run(blobfact, [S0, F0]) ->
    [Saves, Facts] = [list_to_integer(X) || X <- [S0, F0]],
    Logs = list_to_tuple([[event(V * 1000 + I) || I <- lists:seq(1, 1000)] || V <- lists:seq(0, 15)]),
    SaveLat = lists:sort([begin Wf = ?WF(I rem 10), T = now_ns(),
                                save(Wf, element(1 + I rem 16, Logs)), now_ns() - T end
                          || I <- lists:seq(1, Saves)]),
    LoadLat = lists:sort([begin Wf = ?WF(I rem 10), T = now_ns(), _ = load(Wf), now_ns() - T end
                          || I <- lists:seq(1, Saves)]),
    Value = #{order_id => 1, status => <<"approved">>, amount_cents => 1299},
    FactSave = lists:sort([begin T = now_ns(), save_fact(I * 7919, Value#{order_id => I}), now_ns() - T end
                           || I <- lists:seq(1, Facts)]),
    FactLoad = lists:sort([begin T = now_ns(), _ = load_fact(I * 7919), now_ns() - T end
                           || I <- lists:seq(1, Facts)]),
    io_lib:format("save_p50_ns=~B load_p50_ns=~B save_fact_p50_ns=~B load_fact_p50_ns=~B",
                  [pct(SaveLat, 50), pct(LoadLat, 50), pct(FactSave, 50), pct(FactLoad, 50)]);

run(durwrite, [K0, AckFile]) ->
    K = list_to_integer(K0),
    {ok, Fd} = file:open(AckFile, [raw, binary, append]),
    io:format("READY~n"),
    durloop(?WF(1), K, 0, Fd);

run(durcheck, [K0]) ->
    K = list_to_integer(K0),
    Wf = ?WF(1),
    Count = case mnesia:dirty_read('EventCounters', Wf) of [{_, _, C}] -> C; [] -> 0 end,
    Events = stream(Wf),
    Expected = [{K, S} || S <- lists:seq(1, length(Events))],
    Bad = length([x || {E, X} <- lists:zip(Events, Expected), E =/= X]),
    Above = length(mnesia:dirty_select('EventStream', [{{'_', {Wf, '$1'}, '_'}, [{'>', '$1', Count}], ['$1']}])),
    io_lib:format("counter=~B present=~B corrupt=~B above=~B", [Count, length(Events), Bad, Above]).

writer(_Wf, _Batches, I, N, _Deadline, Acc) when N > 0, I >= N -> Acc;
writer(Wf, Batches, I, N, Deadline, Acc) ->
    case now_ns() > Deadline of
        true -> Acc;
        false ->
            T = now_ns(),
            append(Wf, element(1 + I rem 64, Batches)),
            writer(Wf, Batches, I + 1, N, Deadline, [now_ns() - T | Acc])
    end.

durloop(Wf, K, Seq, Fd) ->
    Cursor = append(Wf, [{K, S} || S <- lists:seq(Seq + 1, Seq + K)]),
    ok = file:write(Fd, [integer_to_list(Cursor), $\n]),
    durloop(Wf, K, Cursor, Fd).
