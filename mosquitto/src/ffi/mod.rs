//! The boundary with Mosquitto: the three functions the broker looks up
//! (`mosquitto_plugin_version`, `mosquitto_plugin_init`, `mosquitto_plugin_cleanup`), one
//! event callback, and a safe view of the broker's client accessors. This module (with
//! [`sys`], its declarations) is the only `unsafe` code in the workspace; every block says
//! why it is sound, and every entry point runs the plugin inside `guard`, so a panic never
//! unwinds into C (see `crate::guard`): the event gets its refusal code (a client is rejected, an ACL check
//! denied) and the broker keeps running.

#![allow(unsafe_code)]

mod sys;

use core::ffi::{CStr, c_char, c_int, c_void};
use std::ffi::CString;
use std::time::Instant;

use crate::guard::guard;
use crate::log::{self, Level};
use crate::plugin::{AclAccess, AuthAnswer, AuthCode, ClientFacts, Event, Plugin, Verdict};

/// Writes one line to the broker's log. Called on the broker's thread only (see
/// [`crate::log`], which queues lines from other threads).
fn broker_log(level: Level, message: &str) {
    let level = match level {
        Level::Error => sys::MOSQ_LOG_ERR,
        Level::Warning => sys::MOSQ_LOG_WARNING,
        Level::Notice => sys::MOSQ_LOG_NOTICE,
        Level::Info => sys::MOSQ_LOG_INFO,
    };
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: a constant NUL-terminated "%s" format with exactly one NUL-terminated string
    // argument; mosquitto_log_printf copies what it needs before returning.
    unsafe { sys::mosquitto_log_printf(level, c"%s".as_ptr(), text.as_ptr()) };
}

/// A `const char *` from the broker as `&str`, if it is present and UTF-8.
///
/// # Safety
/// `ptr` is null or a NUL-terminated string that stays valid for `'a`.
unsafe fn c_str<'a>(ptr: *const c_char) -> Option<&'a str> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated, valid for 'a (the caller's contract).
    unsafe { CStr::from_ptr(ptr) }.to_str().ok()
}

/// The client of one callback, read through the broker's accessors. The strings borrow
/// the broker's memory, which it does not change while the callback runs (the plugin sets
/// the username only after every borrow has ended, see [`set_username`]).
///
/// # Safety
/// `client` is the non-null `struct mosquitto *` of the current callback.
unsafe fn facts<'a>(client: *mut sys::Mosquitto) -> ClientFacts<'a> {
    // SAFETY: the accessors only read fields of a live client (the caller's contract) and
    // return pointers into it, or null.
    unsafe {
        ClientFacts {
            key: client as usize,
            id: c_str(sys::mosquitto_client_id(client)),
            address: c_str(sys::mosquitto_client_address(client)),
            username: c_str(sys::mosquitto_client_username(client)),
        }
    }
}

/// Sets the client's Mosquitto username (its ACLs, logs and `$SYS` then see that user).
///
/// # Safety
/// `client` is the non-null `struct mosquitto *` of the current callback, and no string
/// borrowed from it is alive (the broker frees the old username).
unsafe fn set_username(client: *mut sys::Mosquitto, username: &str) -> bool {
    let Ok(name) = CString::new(username) else {
        return false;
    };
    // SAFETY: a live client (the caller's contract) and a NUL-terminated copy the broker
    // duplicates before returning.
    unsafe { sys::mosquitto_set_username(client, name.as_ptr()) == sys::MOSQ_ERR_SUCCESS }
}

/// The plugin object whose address the broker passes back to every callback.
struct Instance {
    identifier: *mut sys::PluginId,
    plugin: Plugin,
    events: Vec<c_int>,
}

/// Plugin API version negotiation: this plugin speaks version 5 only.
///
/// # Safety
/// `supported` points to `count` integers (the broker's list of supported versions).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mosquitto_plugin_version(count: c_int, supported: *const c_int) -> c_int {
    guard("mosquitto_plugin_version", -1, || {
        let count = usize::try_from(count).unwrap_or(0);
        if supported.is_null() || count == 0 {
            return -1;
        }
        // SAFETY: the broker passes `count` readable integers at `supported`.
        let versions = unsafe { core::slice::from_raw_parts(supported, count) };
        if versions.contains(&sys::MOSQ_PLUGIN_VERSION) {
            sys::MOSQ_PLUGIN_VERSION
        } else {
            -1
        }
    })
}

/// Reads the `plugin_opt_*` lines.
///
/// # Safety
/// `options` points to `count` `struct mosquitto_opt` whose strings are NUL-terminated.
unsafe fn read_options(
    options: *const sys::MosquittoOpt,
    count: c_int,
) -> Result<Vec<(String, String)>, String> {
    let count = usize::try_from(count).unwrap_or(0);
    if options.is_null() || count == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the broker passes `count` options at `options` (the caller's contract).
    let options = unsafe { core::slice::from_raw_parts(options, count) };
    options
        .iter()
        .map(|o| {
            // SAFETY: option keys and values are NUL-terminated strings owned by the broker's
            // configuration, alive for this call.
            let (key, value) = unsafe { (c_str(o.key), c_str(o.value)) };
            match (key, value) {
                (Some(k), Some(v)) => Ok((k.to_owned(), v.to_owned())),
                (Some(k), None) => Err(format!("plugin_opt_{k}: the value is not UTF-8")),
                _ => Err("a plugin_opt_ key is not UTF-8".to_owned()),
            }
        })
        .collect()
}

/// Reads the options, builds the plugin and registers its callbacks. A bad option is
/// logged (naming it) and returned as an error, so the broker refuses to start.
///
/// # Safety
/// The broker's contract for `mosquitto_plugin_init`: `identifier` is this plugin's id,
/// `userdata` is writable, `options` holds `count` options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mosquitto_plugin_init(
    identifier: *mut sys::PluginId,
    userdata: *mut *mut c_void,
    options: *mut sys::MosquittoOpt,
    count: c_int,
) -> c_int {
    // SAFETY: forwarded unchanged (this function's contract).
    let rc = guard("mosquitto_plugin_init", sys::MOSQ_ERR_UNKNOWN, || unsafe {
        init(identifier, userdata, options, count)
    });
    log::flush();
    rc
}

/// [`mosquitto_plugin_init`]'s work; its lines are written when it returns.
///
/// # Safety
/// As [`mosquitto_plugin_init`].
unsafe fn init(
    identifier: *mut sys::PluginId,
    userdata: *mut *mut c_void,
    options: *mut sys::MosquittoOpt,
    count: c_int,
) -> c_int {
    {
        log::start(broker_log);
        crate::trace::install();
        if identifier.is_null() || userdata.is_null() {
            return sys::MOSQ_ERR_INVAL;
        }
        // SAFETY: forwarded from the broker (this function's contract).
        let options = match unsafe { read_options(options, count) } {
            Ok(options) => options,
            Err(message) => {
                log::emit(Level::Error, &format!("mqtt-scram: {message}"));
                return sys::MOSQ_ERR_INVAL;
            }
        };
        let plugin = match Plugin::new(&options) {
            Ok(plugin) => plugin,
            Err(error) => {
                log::emit(
                    Level::Error,
                    &format!("mqtt-scram: refusing to start: {error}"),
                );
                return sys::MOSQ_ERR_INVAL;
            }
        };
        // SAFETY: `identifier` is the broker's non-null plugin id (checked above), whose
        // first field is the listener pointer (see `sys::PluginId`); read, never followed.
        let per_listener = unsafe { !(*identifier).listener.is_null() };
        if let Err(message) = plugin.check_listener_scope(per_listener) {
            log::emit(
                Level::Error,
                &format!("mqtt-scram: refusing to start: {message}"),
            );
            return sys::MOSQ_ERR_INVAL;
        }
        let events = plugin
            .events()
            .iter()
            .map(|e| match e {
                Event::ExtAuthStart => sys::MOSQ_EVT_EXT_AUTH_START,
                Event::ExtAuthContinue => sys::MOSQ_EVT_EXT_AUTH_CONTINUE,
                Event::BasicAuth => sys::MOSQ_EVT_BASIC_AUTH,
                Event::AclCheck => sys::MOSQ_EVT_ACL_CHECK,
                Event::Reload => sys::MOSQ_EVT_RELOAD,
                Event::Tick => sys::MOSQ_EVT_TICK,
                Event::Disconnect => sys::MOSQ_EVT_DISCONNECT,
            })
            .collect::<Vec<_>>();
        let instance = Box::into_raw(Box::new(Instance {
            identifier,
            plugin,
            events: Vec::new(),
        }));
        for event in events {
            // SAFETY: `identifier` is ours; the callback and the userdata pointer stay valid
            // until `mosquitto_plugin_cleanup` unregisters them and frees the instance.
            let rc = unsafe {
                sys::mosquitto_callback_register(
                    identifier,
                    event,
                    Some(on_event),
                    core::ptr::null(),
                    instance.cast(),
                )
            };
            if rc != sys::MOSQ_ERR_SUCCESS {
                log::emit(
                    Level::Error,
                    &format!(
                        "mqtt-scram: cannot register for broker event {event} (error {rc}); \
                         is the plugin loaded twice for the same listener?"
                    ),
                );
                // SAFETY: the instance was created above and is not shared yet beyond the
                // callbacks registered so far, which `release` unregisters first.
                unsafe { release(instance) };
                return rc;
            }
            // SAFETY: the instance is alive (created above) and only this thread uses it.
            unsafe { (*instance).events.push(event) };
        }
        // SAFETY: `userdata` is writable (checked non-null above).
        unsafe { *userdata = instance.cast() };
        sys::MOSQ_ERR_SUCCESS
    }
}

/// Unregisters the instance's callbacks and frees it.
///
/// # Safety
/// `instance` came from `Box::into_raw` in `mosquitto_plugin_init` and is not used after.
unsafe fn release(instance: *mut Instance) {
    // SAFETY: the caller's contract: we own the allocation.
    let instance = unsafe { Box::from_raw(instance) };
    for &event in &instance.events {
        // SAFETY: unregisters what `mosquitto_plugin_init` registered with this identifier.
        unsafe {
            sys::mosquitto_callback_unregister(
                instance.identifier,
                event,
                Some(on_event),
                core::ptr::null(),
            );
        }
    }
    instance.plugin.shutdown();
}

/// Frees the plugin at broker shutdown.
///
/// # Safety
/// `userdata` is the pointer `mosquitto_plugin_init` stored (or null if it failed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mosquitto_plugin_cleanup(
    userdata: *mut c_void,
    _options: *mut sys::MosquittoOpt,
    _count: c_int,
) -> c_int {
    let rc = guard("mosquitto_plugin_cleanup", sys::MOSQ_ERR_SUCCESS, || {
        if !userdata.is_null() {
            // SAFETY: the broker passes back the instance pointer once, at shutdown.
            unsafe { release(userdata.cast()) };
        }
        sys::MOSQ_ERR_SUCCESS
    });
    // Everything still queued, including the shutdown report, while the broker still logs.
    log::flush();
    rc
}

/// The one callback registered for every event.
///
/// # Safety
/// The broker's contract: `data` points to the event structure of `event`, and `userdata`
/// is the instance registered with the callback.
unsafe extern "C" fn on_event(event: c_int, data: *mut c_void, userdata: *mut c_void) -> c_int {
    let refusal = match event {
        sys::MOSQ_EVT_EXT_AUTH_START | sys::MOSQ_EVT_EXT_AUTH_CONTINUE => sys::MOSQ_ERR_AUTH,
        sys::MOSQ_EVT_BASIC_AUTH => sys::MOSQ_ERR_AUTH,
        sys::MOSQ_EVT_ACL_CHECK => sys::MOSQ_ERR_ACL_DENIED,
        _ => sys::MOSQ_ERR_SUCCESS,
    };
    guard("a broker event", refusal, || {
        if data.is_null() || userdata.is_null() {
            return refusal;
        }
        let started = Instant::now();
        // SAFETY: `userdata` is the instance registered with this callback, alive until
        // cleanup; the broker calls plugins from its one network thread.
        let instance = unsafe { &*userdata.cast::<Instance>() };
        log::flush();
        // The periodic work, when due: Mosquitto sends no TICK with per_listener_settings.
        if event != sys::MOSQ_EVT_TICK {
            instance.plugin.periodic(false);
        }
        // SAFETY: `data` is the event structure for `event` (the broker's contract).
        let (rc, kind) = unsafe { dispatch(&instance.plugin, event, data) };
        instance.plugin.record_callback(kind, started.elapsed());
        // The plugin holds no lock any more: write what the callback logged (writing may
        // re-enter the plugin, e.g. an ACL check for a `log_dest topic` subscriber).
        log::flush();
        // SAFETY: as for `dispatch`.
        if let Some(current) = unsafe { kick_point(event, data) } {
            for id in instance.plugin.take_kicks(current) {
                kick(&id);
            }
            log::flush();
        }
        rc
    })
}

/// Whether clients may be disconnected after this event, and if so, the event's own client
/// (kept for a later event). Only at the top of the broker's loop (TICK, RELOAD) and while
/// a new client authenticates, where Mosquitto itself disconnects other clients (session
/// take-over); never inside an ACL check (Mosquitto may be walking its subscriptions) or a
/// disconnect.
///
/// # Safety
/// As [`on_event`].
unsafe fn kick_point(event: c_int, data: *mut c_void) -> Option<Option<usize>> {
    match event {
        sys::MOSQ_EVT_TICK | sys::MOSQ_EVT_RELOAD => Some(None),
        sys::MOSQ_EVT_EXT_AUTH_START | sys::MOSQ_EVT_EXT_AUTH_CONTINUE => {
            // SAFETY: the event structure of these events (the caller's contract); only the
            // client pointer is read.
            let client = unsafe {
                core::ptr::addr_of!((*data.cast::<sys::EvtExtendedAuth>()).client).read()
            };
            Some(Some(client as usize))
        }
        sys::MOSQ_EVT_BASIC_AUTH => {
            // SAFETY: as above, for `mosquitto_evt_basic_auth`.
            let client =
                unsafe { core::ptr::addr_of!((*data.cast::<sys::EvtBasicAuth>()).client).read() };
            Some(Some(client as usize))
        }
        _ => None,
    }
}

/// Disconnects the client with this id, without its will (Mosquitto sends DISCONNECT 0x98
/// Administrative action to MQTT 5 clients). Re-enters the plugin (`MOSQ_EVT_DISCONNECT`):
/// called with no lock held.
fn kick(client_id: &str) {
    debug_assert!(!log::lock_held());
    let Ok(id) = CString::new(client_id) else {
        return;
    };
    // SAFETY: a NUL-terminated id the broker only reads during the call; called on the
    // broker's thread, from a callback where disconnecting other clients is allowed.
    let rc = unsafe { sys::mosquitto_kick_client_by_clientid(id.as_ptr(), false) };
    if rc != sys::MOSQ_ERR_SUCCESS {
        log::emit(
            Level::Info,
            &format!("mqtt-scram: client {client_id} was gone before its disconnect (error {rc})"),
        );
    }
}

/// Decodes one event and hands it to the plugin.
///
/// # Safety
/// As [`on_event`].
unsafe fn dispatch(plugin: &Plugin, event: c_int, data: *mut c_void) -> (c_int, Option<Event>) {
    match event {
        sys::MOSQ_EVT_EXT_AUTH_START | sys::MOSQ_EVT_EXT_AUTH_CONTINUE => {
            // SAFETY: the broker passes a `mosquitto_evt_extended_auth` for these events.
            let ev = unsafe { &mut *data.cast::<sys::EvtExtendedAuth>() };
            if ev.client.is_null() {
                return (sys::MOSQ_ERR_PLUGIN_DEFER, None);
            }
            let input = if ev.data_in.is_null() {
                None
            } else {
                // SAFETY: `data_in` holds `data_in_len` bytes for the duration of the call.
                Some(unsafe {
                    core::slice::from_raw_parts(
                        ev.data_in.cast::<u8>(),
                        usize::from(ev.data_in_len),
                    )
                })
            };
            let answer = {
                // SAFETY: a live client for this callback; the borrows end in this block.
                let client = unsafe { facts(ev.client) };
                if event == sys::MOSQ_EVT_EXT_AUTH_START {
                    // SAFETY: `auth_method` is null or the client's NUL-terminated method.
                    let method = unsafe { c_str(ev.auth_method) };
                    plugin.on_auth_start(&client, method, input)
                } else {
                    plugin.on_auth_continue(&client, input)
                }
            };
            let kind = if event == sys::MOSQ_EVT_EXT_AUTH_START {
                Event::ExtAuthStart
            } else {
                Event::ExtAuthContinue
            };
            // SAFETY: the event structure and client of this callback.
            (unsafe { answer_auth(ev, answer) }, Some(kind))
        }
        sys::MOSQ_EVT_BASIC_AUTH => {
            // SAFETY: the broker passes a `mosquitto_evt_basic_auth` for this event.
            let ev = unsafe { &*data.cast::<sys::EvtBasicAuth>() };
            if ev.client.is_null() {
                return (sys::MOSQ_ERR_PLUGIN_DEFER, None);
            }
            let verdict = {
                // SAFETY: a live client and the CONNECT's NUL-terminated strings, for this call.
                let (client, username, password) = unsafe {
                    (
                        facts(ev.client),
                        c_str(ev.username),
                        (!ev.password.is_null()).then(|| CStr::from_ptr(ev.password).to_bytes()),
                    )
                };
                plugin.on_basic_auth(&client, username, password)
            };
            (
                verdict_code(verdict, sys::MOSQ_ERR_AUTH),
                Some(Event::BasicAuth),
            )
        }
        sys::MOSQ_EVT_ACL_CHECK => {
            // SAFETY: the broker passes a `mosquitto_evt_acl_check` for this event.
            let ev = unsafe { &*data.cast::<sys::EvtAclCheck>() };
            let access = match ev.access {
                sys::MOSQ_ACL_READ => AclAccess::Read,
                sys::MOSQ_ACL_WRITE => AclAccess::Write,
                sys::MOSQ_ACL_SUBSCRIBE => AclAccess::Subscribe,
                sys::MOSQ_ACL_UNSUBSCRIBE => AclAccess::Unsubscribe,
                _ => return (sys::MOSQ_ERR_PLUGIN_DEFER, None),
            };
            if ev.client.is_null() {
                return (sys::MOSQ_ERR_PLUGIN_DEFER, None);
            }
            // SAFETY: a live client and a NUL-terminated topic, for this call.
            let (client, topic) = unsafe { (facts(ev.client), c_str(ev.topic)) };
            let verdict = plugin.on_acl_check(&client, access, topic, ev.qos, ev.retain);
            (
                verdict_code(verdict, sys::MOSQ_ERR_ACL_DENIED),
                Some(Event::AclCheck),
            )
        }
        sys::MOSQ_EVT_DISCONNECT => {
            // Only the client pointer: with per_listener_settings 2.0.11 does not initialise
            // the rest of the structure (plugin.c, plugin__handle_disconnect), so no
            // reference to the whole structure is made.
            // SAFETY: the broker passes a `mosquitto_evt_disconnect` for this event, whose
            // `client` field it always sets; the field is read by pointer, nothing else is.
            let client =
                unsafe { core::ptr::addr_of!((*data.cast::<sys::EvtDisconnect>()).client).read() };
            if !client.is_null() {
                plugin.on_disconnect(client as usize);
            }
            (sys::MOSQ_ERR_SUCCESS, Some(Event::Disconnect))
        }
        sys::MOSQ_EVT_TICK => {
            plugin.on_tick();
            (sys::MOSQ_ERR_SUCCESS, Some(Event::Tick))
        }
        sys::MOSQ_EVT_RELOAD => {
            // SAFETY: the broker passes a `mosquitto_evt_reload` for this event.
            let ev = unsafe { &*data.cast::<sys::EvtReload>() };
            // SAFETY: the reloaded configuration's options, alive for this call (2.0.11
            // passes none).
            let options = unsafe { read_options(ev.options, ev.option_count) };
            plugin.on_reload(options.ok().filter(|o| !o.is_empty()).as_deref());
            // 2.0.11 stops calling the other plugins' reload callbacks at the first answer
            // that is not "defer", so defer to let them reload too.
            (sys::MOSQ_ERR_PLUGIN_DEFER, Some(Event::Reload))
        }
        _ => (sys::MOSQ_ERR_SUCCESS, None),
    }
}

fn verdict_code(verdict: Verdict, deny: c_int) -> c_int {
    match verdict {
        Verdict::Allow => sys::MOSQ_ERR_SUCCESS,
        Verdict::Deny => deny,
        Verdict::Defer => sys::MOSQ_ERR_PLUGIN_DEFER,
    }
}

/// Sets the username and `data_out` as the answer says, and returns the broker code.
///
/// # Safety
/// `ev` is the event structure of the current callback, with a live client.
unsafe fn answer_auth(ev: &mut sys::EvtExtendedAuth, answer: AuthAnswer) -> c_int {
    if let Some(username) = &answer.username {
        // SAFETY: the callback's client; no borrowed client string is alive any more.
        if !unsafe { set_username(ev.client, username) } {
            log::emit(
                Level::Warning,
                "mqtt-scram: the broker refused the authenticated username; client rejected",
            );
            return sys::MOSQ_ERR_AUTH;
        }
    }
    if let Some(data) = answer.data.filter(|d| !d.is_empty()) {
        let Ok(len) = u16::try_from(data.len()) else {
            return sys::MOSQ_ERR_AUTH;
        };
        // SAFETY: the broker's allocator, so the broker can free the buffer with its `free`.
        let out = unsafe { sys::mosquitto_malloc(data.len()) };
        if out.is_null() {
            return sys::MOSQ_ERR_AUTH;
        }
        // SAFETY: `out` has room for `data.len()` bytes and does not overlap `data`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), out.cast::<u8>(), data.len()) };
        ev.data_out = out;
        ev.data_out_len = len;
    }
    match answer.code {
        AuthCode::Success => sys::MOSQ_ERR_SUCCESS,
        AuthCode::Continue => sys::MOSQ_ERR_AUTH_CONTINUE,
        AuthCode::Denied => sys::MOSQ_ERR_AUTH,
        AuthCode::Defer => sys::MOSQ_ERR_PLUGIN_DEFER,
    }
}
