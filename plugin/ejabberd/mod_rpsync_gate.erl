%% SPDX-License-Identifier: MIT
%% mod_rpsync_gate: the server side of rpsync (XEP "Roster Presence Synchronisation") for
%% ejabberd 23.01, the counterpart of plugin/prosody/mod_rpsync_gate.lua. Enable it on the
%% users' hosts:
%%
%%   modules:
%%     mod_rpsync_gate:
%%       components: ["rpsync.example.test"]
%%
%% Contract
%%   1. Gate. The host's disco#info lists 'urn:xmpp:rpsync:0#synced'. A client's initial
%%      presence marked <synced xmlns='urn:xmpp:rpsync:0'/> generates no presence probes
%%      to its roster contacts (the probe to the user's own bare JID, which brings the
%%      presence of the user's other resources, is kept). Only that session's initial
%%      presence is affected. The marker is removed from every presence a local client
%%      sends (every type, initial or not) before any other module sees it (the hook runs
%%      at user_send_packet sequence 5; mod_privilege forwards at 50).
%%   2. Sessions (only with `components` set; then disco#info also lists
%%      'urn:xmpp:rpsync:0#sessions'):
%%      a) When a session that had available presence ends (unavailable, close, abrupt
%%         drop, kick, replaced by a new session with the same resource), the server routes
%%         <presence type='unavailable' from='user@host/res' to='COMPONENT'/> to every
%%         connected component in `components`. For a replaced session it is routed by the
%%         new session when it binds, before it can send anything, and not again later.
%%      b) When a component in `components` connects, every local session with available
%%         presence routes its current presence (marker-free, from its full JID, with
%%         <delay from='HOST'/> stamped when the session last sent it) to the component,
%%         then the host sends <message from='HOST'><sessions-sent xmlns='urn:xmpp:rpsync:0'/>
%%         </message>: the re-send for HOST is complete.
%%   3. Directed available/unavailable presence from a client to a JID at a component's
%%      domain in `components` is dropped: what reaches the component from a user's full
%%      JID is a forwarded broadcast or one of this module's own.
%%   4. Receiver-side copies: mod_privilege forwards presence a local user RECEIVES
%%      (user_receive_packet, sequence 50) as if it were a broadcast, including presence a
%%      contact directs to that user alone. When the sender is a local user of a host whose
%%      mod_rpsync_gate serves the component, that copy is not routed to the component:
%%      his broadcasts reach it from his own session (mod_privilege's self-presence copy)
%%      and his session ends from 2a. What the receiving user gets is unchanged; presence
%%      of remote senders is forwarded as before.
%%
%% How (ejabberd 23.01, ejabberd_c2s.erl): handle_authenticated_packet runs the
%% user_send_packet fold, then process_self_presence (c2s_self_presence fold), then
%% broadcast_presence_available, which for an initial presence (no pres_last) passes each
%% probe through the privacy_check_packet fold with the session's state. The marked initial
%% presence leaves a flag in that state; the privacy hook denies ({stop, deny}: mod_privacy
%% ignores the accumulator) probes to contacts while the flag is set. The flag is cleared
%% by the session's next presence, so it cannot affect anything later.
-module(mod_rpsync_gate).

-behaviour(gen_mod).

-export([start/2, stop/1, reload/3, depends/2, mod_options/1, mod_opt_type/1, mod_doc/0]).
%% Hooks
-export([user_send_packet/1, privacy_check_packet/4, c2s_self_presence/1,
         disco_features/5, unset_presence/4, c2s_terminated/2, c2s_session_opened/1,
         c2s_handle_call/3, component_connected/1, rx_local_mark/1, rx_local_clear/1,
         filter_packet/1]).
%% Internal: the re-send worker.
-export([resend/2]).

-include("xmpp.hrl").

-include("logger.hrl").

-define(NS, <<"urn:xmpp:rpsync:0">>).
-define(MARKER, <<"synced">>).
-define(FEATURE_SYNCED, <<"urn:xmpp:rpsync:0#synced">>).
-define(FEATURE_SESSIONS, <<"urn:xmpp:rpsync:0#sessions">>).
-define(FLAG, rpsync_gate_marked).
-define(REPLACED, rpsync_gate_replaced).
-define(RX_LOCAL, rpsync_gate_rx_local).
-define(RESEND_CALL_TIMEOUT, 1000).
-define(PRIVILEGE_SYNC_TIMEOUT, 5000).

%%%===================================================================
%%% gen_mod
%%%===================================================================
start(Host, Opts) ->
    case gen_mod:get_opt(components, Opts) of
        [] ->
            ?WARNING_MSG("mod_rpsync_gate on ~ts: no 'components' configured; only the "
                         "probe gate is active (no session-end reports, no re-send on "
                         "component connect)", [Host]);
        Comps ->
            ?INFO_MSG("mod_rpsync_gate on ~ts serves components ~p", [Host, Comps])
    end,
    lists:foreach(fun({Hook, Fun, Seq}) -> ejabberd_hooks:add(Hook, Host, ?MODULE, Fun, Seq) end,
                  host_hooks()),
    lists:foreach(fun({Hook, Fun, Seq}) -> ejabberd_hooks:add(Hook, ?MODULE, Fun, Seq) end,
                  global_hooks()),
    ok.

stop(Host) ->
    lists:foreach(fun({Hook, Fun, Seq}) ->
                          ejabberd_hooks:delete(Hook, Host, ?MODULE, Fun, Seq)
                  end,
                  host_hooks()),
    case [H || H <- ejabberd_option:hosts(), H /= Host, gen_mod:is_loaded(H, ?MODULE)] of
        [] ->
            lists:foreach(fun({Hook, Fun, Seq}) -> ejabberd_hooks:delete(Hook, ?MODULE, Fun, Seq) end,
                          global_hooks());
        _ ->
            ok
    end,
    ok.

reload(_Host, _NewOpts, _OldOpts) ->
    ok.

depends(_Host, _Opts) ->
    [].

mod_opt_type(components) ->
    econf:list(econf:domain()).

mod_options(_Host) ->
    [{components, []}].

mod_doc() ->
    #{desc =>
          [<<"rpsync server support: skips the presence probes of an initial presence "
             "marked <synced xmlns='urn:xmpp:rpsync:0'/>, reports session ends to the "
             "rpsync component and re-sends current presence when it connects.">>],
      opts =>
          [{components,
            #{value => <<"[Domain]">>,
              desc => <<"JIDs of the rpsync components to report sessions to.">>}}]}.

%% {Hook, Function, Sequence}; lower sequences run first.
host_hooks() ->
    [{user_send_packet, user_send_packet, 5},
     {privacy_check_packet, privacy_check_packet, 5},
     {c2s_self_presence, c2s_self_presence, 5},
     {disco_local_features, disco_features, 60},
     {unset_presence_hook, unset_presence, 60},
     {c2s_terminated, c2s_terminated, 10},
     {c2s_session_opened, c2s_session_opened, 60},
     {c2s_handle_call, c2s_handle_call, 60},
     %% Around mod_privilege's process_presence_in (50); mod_block_strangers (25) runs
     %% before, mod_caps (75), mod_mam (88) and mod_carboncopy (89) after, untouched.
     {user_receive_packet, rx_local_mark, 45},
     {user_receive_packet, rx_local_clear, 55}].

global_hooks() ->
    [{component_connected, component_connected, 60},
     {filter_packet, filter_packet, 40}].

components(Host) ->
    gen_mod:get_module_opt(Host, ?MODULE, components).

%%%===================================================================
%%% 1. Gate
%%%===================================================================
user_send_packet({#presence{} = Pres, State0}) ->
    State = maps:remove(?FLAG, State0),
    {Marked, Pres1} = strip_marker(Pres),
    case directed_to_component(Pres1, State) of
        true ->
            ?DEBUG("Dropped directed presence from ~ts to ~ts",
                   [jid:encode(Pres1#presence.from), jid:encode(Pres1#presence.to)]),
            {stop, {drop, State}};
        false when Marked ->
            {Pres1, mark_if_initial(Pres1, State)};
        false ->
            {Pres1, State}
    end;
user_send_packet(Acc) ->
    Acc.

-spec strip_marker(presence()) -> {boolean(), presence()}.
strip_marker(#presence{sub_els = Els} = Pres) ->
    case lists:partition(fun is_marker/1, Els) of
        {[], _} -> {false, Pres};
        {_, Rest} -> {true, Pres#presence{sub_els = Rest}}
    end.

is_marker(#xmlel{name = ?MARKER} = El) ->
    fxml:get_tag_attr_s(<<"xmlns">>, El) == ?NS;
is_marker(_) ->
    false.

%% The flag is set only for an available presence to the user's own bare JID (a client's
%% undirected presence) of a session that has no presence yet: exactly the case in which
%% broadcast_presence_available sends probes.
mark_if_initial(#presence{type = available, to = To} = Pres,
                #{jid := #jid{luser = U, lserver = S} = JID} = State) ->
    case {To, maps:is_key(pres_last, State)} of
        {#jid{luser = U, lserver = S, lresource = <<"">>}, false} ->
            ?INFO_MSG("~ts synchronised: skipping presence probes", [jid:encode(JID)]),
            State#{?FLAG => true};
        _ ->
            ?DEBUG("Stripped rpsync marker from a non-initial presence of ~ts",
                   [jid:encode(Pres#presence.from)]),
            State
    end;
mark_if_initial(_Pres, State) ->
    State.

privacy_check_packet(Acc, #{?FLAG := true, jid := JID},
                     #presence{type = probe, to = #jid{} = To}, out) ->
    case jid:tolower(jid:remove_resource(To)) == jid:tolower(jid:remove_resource(JID)) of
        true -> Acc;
        false -> {stop, deny}
    end;
privacy_check_packet(Acc, _State, _Pkt, _Dir) ->
    Acc.

c2s_self_presence({#presence{type = unavailable} = Pres, State}) ->
    {Pres, maps:remove(?FLAG, State)};
c2s_self_presence(Acc) ->
    Acc.

disco_features({error, _} = Acc, _From, _To, _Node, _Lang) ->
    Acc;
disco_features(Acc, _From, #jid{lserver = Host}, <<"">>, _Lang) ->
    Feats =
        case Acc of
            {result, F} -> F;
            _ -> []
        end,
    Own = case components(Host) of
              [] -> [?FEATURE_SYNCED];
              _ -> [?FEATURE_SYNCED, ?FEATURE_SESSIONS]
          end,
    {result, Feats ++ Own};
disco_features(Acc, _From, _To, _Node, _Lang) ->
    Acc.

%%%===================================================================
%%% 3. Directed presence to a component
%%%===================================================================
directed_to_component(#presence{type = Type, to = #jid{lserver = Domain}},
                      #{lserver := Host})
  when Type == available; Type == unavailable ->
    lists:any(fun(C) -> Domain == C orelse is_subdomain(Domain, C) end, components(Host));
directed_to_component(_Pres, _State) ->
    false.

is_subdomain(Domain, Parent) ->
    Suffix = <<".", Parent/binary>>,
    byte_size(Domain) > byte_size(Suffix) andalso
        binary:longest_common_suffix([Domain, Suffix]) == byte_size(Suffix).

%%%===================================================================
%%% 4. Receiver-side copies of local senders' presence
%%%===================================================================
%% In the receiving session's process, which runs the whole user_receive_packet fold: while
%% mod_privilege (sequence 50) handles a presence from a local sender of a host that serves
%% components, the process remembers {sender, those components}; filter_packet drops
%% what this process routes from that sender to those components in the meantime (only
%% mod_privilege's copies: nothing else routes another user's presence to a component).
rx_local_mark({#presence{type = Type, from = #jid{luser = U, lserver = S} = From}, _} = Acc)
  when U /= <<"">>, (Type == available orelse Type == unavailable) ->
    case served_components(S) of
        [] -> erase(?RX_LOCAL);
        Comps -> put(?RX_LOCAL, {jid:tolower(From), Comps})
    end,
    Acc;
rx_local_mark(Acc) ->
    erase(?RX_LOCAL),
    Acc.

rx_local_clear(Acc) ->
    erase(?RX_LOCAL),
    Acc.

%% Components served by mod_rpsync_gate on Host if Host is a local host running it.
served_components(Host) ->
    case ejabberd_router:is_my_host(Host) andalso gen_mod:is_loaded(Host, ?MODULE) of
        true -> components(Host);
        false -> []
    end.

filter_packet(#presence{from = From, to = #jid{luser = <<"">>, lserver = Comp}} = Pkt) ->
    case get(?RX_LOCAL) of
        undefined ->
            Pkt;
        {LFrom, Comps} ->
            case jid:tolower(From) == LFrom andalso lists:member(Comp, Comps) of
                true ->
                    ?DEBUG("Withheld ~ts's presence received by a local user from "
                           "component ~ts", [jid:encode(From), Comp]),
                    {stop, drop};
                false ->
                    Pkt
            end
    end;
filter_packet(Pkt) ->
    Pkt.

%%%===================================================================
%%% 2a. Session end
%%%===================================================================
%% Runs in the session's process when ejabberd removes its presence: an unavailable it
%% sent, or the end of a session that had presence (not a stream-management resume).
unset_presence(User, Server, Resource, _Status) ->
    case get(?REPLACED) of
        true -> ok;  % announced by the replacing session (c2s_session_opened)
        _ -> report_unavailable(jid:make(User, Server, Resource))
    end.

c2s_terminated(#{replaced := true} = State, _Reason) ->
    put(?REPLACED, true),
    State;
c2s_terminated(State, _Reason) ->
    State.

%% A new session (not a resume) for a resource that still has an older session: ejabberd
%% has just told the older one to go. Report it gone now, from the new session's process,
%% so the component gets it before anything the new session sends.
c2s_session_opened(#{jid := #jid{user = U, server = S, resource = R} = JID} = State) ->
    case length(ejabberd_sm:get_session_sids(U, S, R)) > 1 of
        true -> report_unavailable(JID);
        false -> ok
    end,
    State.

report_unavailable(#jid{lserver = Host} = JID) ->
    lists:foreach(
      fun(Comp) ->
              route_if_connected(Comp, #presence{type = unavailable, from = JID,
                                                 to = jid:make(Comp)})
      end,
      components(Host)).

route_if_connected(Comp, Pkt) ->
    case ejabberd_router:is_my_route(Comp) of
        true -> ejabberd_router:route(Pkt);
        false -> ok
    end.

%%%===================================================================
%%% 2b. Re-send on component connect
%%%===================================================================
%% Global hook, run in the component's process once it is authenticated and routed.
component_connected(Comp) ->
    lists:foreach(
      fun(Host) ->
              case gen_mod:is_loaded(Host, ?MODULE) andalso lists:member(Comp, components(Host)) of
                  true -> spawn(?MODULE, resend, [Host, Comp]);
                  false -> ok
              end
      end,
      ejabberd_option:hosts()).

%% Waits until mod_privilege has granted its permissions (its cast from the same
%% component_connected run is processed first), asks each local session to route its
%% presence, then tells the component the re-send for Host is complete.
resend(Host, Comp) ->
    Priv = gen_mod:get_module_proc(Host, mod_privilege),
    _ = catch sys:get_state(Priv, ?PRIVILEGE_SYNC_TIMEOUT),
    Sessions = ejabberd_sm:get_vh_session_list(Host),
    Sent = lists:foldl(fun(USR, N) -> N + resend_session(USR, Comp) end, 0, Sessions),
    ?INFO_MSG("Re-sent ~B presences of ~ts to component ~ts", [Sent, Host, Comp]),
    route_if_connected(Comp,
                       #message{from = jid:make(Host), to = jid:make(Comp),
                                id = p1_rand:get_string(),
                                sub_els = [#xmlel{name = <<"sessions-sent">>,
                                                  attrs = [{<<"xmlns">>, ?NS}]}]}).

resend_session({U, S, R}, Comp) ->
    case ejabberd_sm:get_session_pid(U, S, R) of
        Pid when is_pid(Pid) ->
            try ejabberd_c2s:call(Pid, {rpsync_gate_resend, Comp}, ?RESEND_CALL_TIMEOUT) of
                sent -> 1;
                _ -> 0
            catch
                _:_ -> 0
            end;
        _ ->
            0
    end.

%% In the session's process: its own presence is routed from here, so it is ordered with
%% whatever the session routes next.
c2s_handle_call(#{pres_last := Pres, pres_timestamp := TS, jid := JID, lserver := Host} = State,
                {rpsync_gate_resend, Comp}, From) ->
    Pres1 = xmpp:set_from_to(Pres, JID, jid:make(Comp)),
    route_if_connected(Comp, misc:add_delay_info(Pres1, jid:make(Host), TS)),
    ejabberd_c2s:reply(From, sent),
    {stop, State};
c2s_handle_call(State, {rpsync_gate_resend, _Comp}, From) ->
    ejabberd_c2s:reply(From, none),
    {stop, State};
c2s_handle_call(State, _Request, _From) ->
    State.
