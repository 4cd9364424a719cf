//! Mosquitto plugin (work in progress: see the Mosquitto issue).
