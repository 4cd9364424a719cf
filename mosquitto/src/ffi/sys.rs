//! Hand-written declarations of the Mosquitto 2.0 broker plugin ABI (plugin API version 5),
//! from Debian's `mosquitto-dev` 2.0.11 headers (`mosquitto_broker.h`, `mosquitto_plugin.h`,
//! `mosquitto.h`). Every struct is `#[repr(C)]` with the headers' field order and types;
//! the functions are defined by the broker executable and resolved when it loads the plugin.

use core::ffi::{c_char, c_int, c_void};

/// `struct mosquitto` (opaque).
#[repr(C)]
pub struct Mosquitto {
    _opaque: [u8; 0],
}

/// `mosquitto_plugin_id_t`: opaque in the public headers; in Mosquitto's source
/// (`src/mosquitto_broker_internal.h`, the same in every 2.0.x release) its one field is the
/// listener of a per-listener plugin, null for a global one. Only that null check is made.
#[repr(C)]
pub struct PluginId {
    pub listener: *mut c_void,
}

/// `struct mosquitto_opt`: one `plugin_opt_<key> <value>` line.
#[repr(C)]
pub struct MosquittoOpt {
    pub key: *mut c_char,
    pub value: *mut c_char,
}

/// `struct mosquitto_evt_reload`.
#[repr(C)]
pub struct EvtReload {
    pub future: *mut c_void,
    pub options: *mut MosquittoOpt,
    pub option_count: c_int,
    pub future2: [*mut c_void; 4],
}

/// `struct mosquitto_evt_acl_check`.
#[repr(C)]
pub struct EvtAclCheck {
    pub future: *mut c_void,
    pub client: *mut Mosquitto,
    pub topic: *const c_char,
    pub payload: *const c_void,
    pub properties: *mut c_void,
    pub access: c_int,
    pub payloadlen: u32,
    pub qos: u8,
    pub retain: bool,
    pub future2: [*mut c_void; 4],
}

/// `struct mosquitto_evt_basic_auth`.
#[repr(C)]
pub struct EvtBasicAuth {
    pub future: *mut c_void,
    pub client: *mut Mosquitto,
    pub username: *mut c_char,
    pub password: *mut c_char,
    pub future2: [*mut c_void; 4],
}

/// `struct mosquitto_evt_extended_auth` (both `MOSQ_EVT_EXT_AUTH_START` and `_CONTINUE`).
#[repr(C)]
pub struct EvtExtendedAuth {
    pub future: *mut c_void,
    pub client: *mut Mosquitto,
    pub data_in: *const c_void,
    pub data_out: *mut c_void,
    pub data_in_len: u16,
    pub data_out_len: u16,
    pub auth_method: *const c_char,
    pub future2: [*mut c_void; 3],
}

// `struct mosquitto_evt_tick` is not read: 2.0.11 leaves every field zero.

/// `struct mosquitto_evt_disconnect`. Only `client` may be read: with
/// `per_listener_settings` 2.0.11 leaves the other fields uninitialised.
#[repr(C)]
pub struct EvtDisconnect {
    pub future: *mut c_void,
    pub client: *mut Mosquitto,
    pub reason: c_int,
    pub future2: [*mut c_void; 4],
}

/// `MOSQ_FUNC_generic_callback`.
pub type GenericCallback = unsafe extern "C" fn(c_int, *mut c_void, *mut c_void) -> c_int;

// enum mosquitto_plugin_event
pub const MOSQ_EVT_RELOAD: c_int = 1;
pub const MOSQ_EVT_ACL_CHECK: c_int = 2;
pub const MOSQ_EVT_BASIC_AUTH: c_int = 3;
pub const MOSQ_EVT_EXT_AUTH_START: c_int = 4;
pub const MOSQ_EVT_EXT_AUTH_CONTINUE: c_int = 5;
pub const MOSQ_EVT_TICK: c_int = 9;
pub const MOSQ_EVT_DISCONNECT: c_int = 10;

// enum mosq_err_t
pub const MOSQ_ERR_AUTH_CONTINUE: c_int = -4;
pub const MOSQ_ERR_SUCCESS: c_int = 0;
pub const MOSQ_ERR_INVAL: c_int = 3;
pub const MOSQ_ERR_AUTH: c_int = 11;
pub const MOSQ_ERR_ACL_DENIED: c_int = 12;
pub const MOSQ_ERR_UNKNOWN: c_int = 13;
pub const MOSQ_ERR_PLUGIN_DEFER: c_int = 17;

// MOSQ_ACL_*
pub const MOSQ_ACL_READ: c_int = 0x01;
pub const MOSQ_ACL_WRITE: c_int = 0x02;
pub const MOSQ_ACL_SUBSCRIBE: c_int = 0x04;
pub const MOSQ_ACL_UNSUBSCRIBE: c_int = 0x08;

// MOSQ_LOG_*
pub const MOSQ_LOG_INFO: c_int = 1 << 0;
pub const MOSQ_LOG_NOTICE: c_int = 1 << 1;
pub const MOSQ_LOG_WARNING: c_int = 1 << 2;
pub const MOSQ_LOG_ERR: c_int = 1 << 3;

/// The plugin interface version this plugin implements.
pub const MOSQ_PLUGIN_VERSION: c_int = 5;

unsafe extern "C" {
    pub fn mosquitto_callback_register(
        identifier: *mut PluginId,
        event: c_int,
        cb_func: Option<GenericCallback>,
        event_data: *const c_void,
        userdata: *mut c_void,
    ) -> c_int;
    pub fn mosquitto_callback_unregister(
        identifier: *mut PluginId,
        event: c_int,
        cb_func: Option<GenericCallback>,
        event_data: *const c_void,
    ) -> c_int;
    pub fn mosquitto_malloc(size: usize) -> *mut c_void;
    pub fn mosquitto_log_printf(level: c_int, fmt: *const c_char, ...);
    pub fn mosquitto_client_address(client: *const Mosquitto) -> *const c_char;
    pub fn mosquitto_client_id(client: *const Mosquitto) -> *const c_char;
    pub fn mosquitto_client_username(client: *const Mosquitto) -> *const c_char;
    pub fn mosquitto_set_username(client: *mut Mosquitto, username: *const c_char) -> c_int;
    pub fn mosquitto_kick_client_by_clientid(clientid: *const c_char, with_will: bool) -> c_int;
}
