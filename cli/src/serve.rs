//! `mqtt-scram serve`: the auth service for EMQX 5, EMQX 4, amqtt and VerneMQ, in the
//! foreground (see the `mqtt-scram-service` package).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args as ClapArgs;

use crate::{Failure, Status};

/// `serve` options.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The service configuration (TOML).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
    /// Listen on this address instead of the file's `listen` (default 127.0.0.1:8090).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

/// Serves until SIGTERM/SIGINT (exit 0); SIGHUP re-reads the credential and ACL files.
pub fn run(args: Args) -> Result<Status, Failure> {
    mqtt_scram_service::init_logging();
    mqtt_scram_service::run(&args.config, args.listen)
        .map(|()| Status::Ok)
        .map_err(|e| Failure::usage(format!("serve: {}: {e}", args.config.display())))
}
