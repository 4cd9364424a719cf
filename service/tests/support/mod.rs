//! Shared by the service tests: credential files written with the stores' own record
//! codec, and the service started in-process on a free loopback port.

#![allow(dead_code)]

use std::net::SocketAddr;

use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::UserRecord;
use mqtt_scram_authz::AclRule;
use mqtt_scram_service::{Service, ServiceConfig};
use mqtt_scram_stores::record::{CredentialRecord, Format, write_records};
use tokio::sync::oneshot;

/// A user for a credential file.
pub struct User {
    pub name: &'static str,
    pub password: &'static str,
    pub hash: HashAlgorithm,
    pub iterations: u32,
    pub superuser: bool,
    pub expire_at: Option<u64>,
    pub acl: Vec<AclRule>,
}

impl User {
    pub fn new(name: &'static str, password: &'static str) -> Self {
        Self {
            name,
            password,
            hash: HashAlgorithm::Sha256,
            iterations: 4096,
            superuser: false,
            expire_at: None,
            acl: Vec::new(),
        }
    }

    pub fn record(&self) -> CredentialRecord {
        let salt: Vec<u8> = self
            .name
            .bytes()
            .chain(*b"-salt-0123456789")
            .take(16)
            .collect();
        let credentials =
            StoredCredentials::derive(self.hash, self.password, &salt, self.iterations).unwrap();
        let mut record = CredentialRecord::new(
            self.name,
            &UserRecord::new(credentials).superuser(self.superuser),
        );
        record.expire_at = self.expire_at;
        record.acl = self.acl.clone();
        record
    }
}

/// The users as a JSON-lines credential file.
pub fn users_file(users: &[User]) -> String {
    let records: Vec<CredentialRecord> = users.iter().map(User::record).collect();
    write_records(&records, Format::Json).unwrap()
}

/// A running in-process service; stops (draining) when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub service_backend: std::sync::Arc<mqtt_scram_service::Backend>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the service and waits for it to finish draining.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the service described by `toml` on a free loopback port.
pub async fn start(toml: &str) -> Running {
    let mut config = ServiceConfig::from_toml(toml).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let service = Service::new(&config).unwrap();
    let backend = std::sync::Arc::clone(service.backend());
    let listener = service.bind().await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(service.serve(listener, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        service_backend: backend,
        stop: Some(stop),
        task: Some(task),
    }
}

/// A TOML string literal for a path.
pub fn toml_path(path: &std::path::Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// A reqwest client (plain HTTP; the ring provider installed for rustls).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
