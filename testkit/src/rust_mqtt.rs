//! rust-mqtt 0.6 as an MQTT 5 client with SCRAM, its `connect_enhanced` and
//! `reauthenticate` driving the engine's typed client states ([`CrateScram`]); shared by the
//! broker's interop tests and the Mosquitto plugin's tests.

use std::net::SocketAddr;
use std::time::Duration;

use embedded_io_adapters::tokio_1::FromTokio;
use mqtt_scram::Mechanism;
use mqtt_scram::client::{
    self, Authenticated, AwaitingServerFinal, AwaitingServerFirst, ClientConfig,
};
use rust_mqtt::Bytes;
use rust_mqtt::auth::{AuthMechanism, AuthOptions};
use rust_mqtt::buffer::AllocBuffer;
use rust_mqtt::client::Client;
use rust_mqtt::client::event::{Auth, Event};
use rust_mqtt::client::options::{
    ConnectOptions, DisconnectOptions, PublicationOptions, ReAuthOptions, SubscriptionOptions,
    TopicReference,
};
use rust_mqtt::types::{MqttBinary, MqttString, ReasonCode, TopicFilter, TopicName};

/// rust-mqtt's `AuthMechanism` over the engine's typed client states: AUTH 0x18 takes
/// `first` to `last`, CONNACK 0x00 verifies the server signature into `done`.
#[derive(Default)]
pub struct CrateScram {
    /// Waiting for the server-first-message.
    pub first: Option<AwaitingServerFirst>,
    /// Waiting for the server-final-message.
    pub last: Option<AwaitingServerFinal>,
    /// The server signature verified (for re-authentication).
    pub done: Option<Authenticated>,
}

fn data<const N: usize>(auth: &Auth<'_, N>) -> Vec<u8> {
    auth.authentication_data
        .as_ref()
        .map(|d| d.as_bytes().to_vec())
        .unwrap_or_default()
}

impl<const N: usize> AuthMechanism<N> for CrateScram {
    type Error = String;

    fn kontinue(
        &mut self,
        auth: &Auth<'_, N>,
    ) -> Result<AuthOptions<'_, N>, (String, Option<ReasonCode>)> {
        let protocol = |e: String| (e, Some(ReasonCode::ProtocolError));
        let first = self
            .first
            .take()
            .ok_or_else(|| protocol("AUTH 0x18 out of order".into()))?;
        let (last, client_final) = first
            .on_server_first(&data(auth))
            .map_err(|e| protocol(e.to_string()))?;
        self.last = Some(last);
        let data =
            MqttBinary::try_from(client_final).map_err(|_| ("too long".to_string(), None))?;
        Ok(AuthOptions {
            authentication_data: Some(data),
            ..Default::default()
        })
    }

    fn success(&mut self, auth: &Auth<'_, N>) -> Result<(), (String, Option<ReasonCode>)> {
        let protocol = |e: String| (e, Some(ReasonCode::ProtocolError));
        let last = self
            .last
            .take()
            .ok_or_else(|| protocol("success out of order".into()))?;
        self.done = Some(
            last.on_server_final(&data(auth))
                .map_err(|e| protocol(e.to_string()))?,
        );
        Ok(())
    }
}

/// The client side of one [`login_publish_reauthenticate`] session.
#[derive(Clone, Copy, Debug)]
pub struct Session<'a> {
    /// The CONNECT client identifier.
    pub client_id: &'a str,
    /// The topic the client subscribes to and publishes on.
    pub topic: &'a str,
    /// How long each step (connect, each packet awaited) may take.
    pub step: Duration,
}

/// The next event from the broker, within `$step`.
macro_rules! next_event {
    ($client:expr, $step:expr) => {
        tokio::time::timeout($step, $client.poll())
            .await
            .expect("rust-mqtt: the broker did not answer in time")
            .expect("rust-mqtt: poll")
    };
}

/// Logs in as `user` over TCP with `connect_enhanced` (the engine's client verifies the
/// server signature), subscribes to `session.topic` and receives its own PUBLISH,
/// re-authenticates (AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00 with `v=`, verified),
/// publishes and receives once more, and disconnects. Any other outcome fails the test.
pub async fn login_publish_reauthenticate(
    addr: SocketAddr,
    mechanism: Mechanism,
    user: &str,
    password: &str,
    session: Session<'_>,
) {
    let step = session.step;
    let mut buffer = AllocBuffer;
    let mut client = Client::<'_, '_, _, _, 1, 1, 1, 1, 16, 0, 0>::new(&mut buffer);
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (first, client_first) = client::start(
        &ClientConfig::new(),
        mechanism,
        user,
        password,
        &mut rand::rng(),
    )
    .unwrap();
    let mut scram = CrateScram {
        first: Some(first),
        ..Default::default()
    };
    let options = ConnectOptions::new()
        .clean_start()
        .authentication_data(MqttBinary::try_from(client_first).unwrap());
    let method = MqttString::from_str(mechanism.name()).unwrap();
    let client_id = MqttString::from_str(session.client_id).unwrap();
    let connected = tokio::time::timeout(
        step,
        client.connect_enhanced(
            FromTokio::new(stream),
            &options,
            Some(client_id),
            method,
            &mut scram,
        ),
    )
    .await
    .unwrap();
    assert!(connected.is_ok(), "connect_enhanced: {connected:?}");
    let authenticated = scram
        .done
        .take()
        .expect("server signature verified by the engine's client");

    // Publish / receive one message through the broker.
    let topic = MqttString::from_str(session.topic).unwrap();
    client
        .subscribe(
            TopicFilter::new(topic.as_borrowed()).unwrap(),
            &SubscriptionOptions::new(),
        )
        .await
        .unwrap();
    match next_event!(client, step) {
        Event::Suback(_) => {}
        other => panic!("expected SUBACK, got {other:?}"),
    }
    let publication = PublicationOptions::new(TopicReference::Name(
        TopicName::new(topic.as_borrowed()).unwrap(),
    ));
    client
        .publish(
            &publication,
            Bytes::from(b"hello from rust-mqtt".as_slice()),
        )
        .await
        .unwrap();
    match next_event!(client, step) {
        Event::Publish(p) => assert_eq!(p.message.as_bytes(), b"hello from rust-mqtt"),
        other => panic!("expected PUBLISH, got {other:?}"),
    }

    // Re-authenticate: AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00 (v=).
    let (first, client_first) = authenticated.reauthenticate(&mut rand::rng());
    let reauth =
        ReAuthOptions::new().authentication_data(MqttBinary::try_from(client_first).unwrap());
    client.reauthenticate(&reauth).await.unwrap();
    let server_first = match next_event!(client, step) {
        Event::Auth(auth) if auth.reason_code == ReasonCode::ContinueAuthentication => {
            auth.authentication_data.unwrap().as_bytes().to_vec()
        }
        other => panic!("expected AUTH 0x18, got {other:?}"),
    };
    let (last, client_final) = first.on_server_first(&server_first).unwrap();
    let reauth =
        ReAuthOptions::new().authentication_data(MqttBinary::try_from(client_final).unwrap());
    client.reauthenticate(&reauth).await.unwrap();
    let server_final = match next_event!(client, step) {
        Event::Auth(auth) if auth.reason_code == ReasonCode::Success => {
            auth.authentication_data.unwrap().as_bytes().to_vec()
        }
        other => panic!("expected AUTH 0x00, got {other:?}"),
    };
    last.on_server_final(&server_final)
        .expect("re-authentication server signature");

    // Still authenticated and working after re-authentication.
    client
        .publish(&publication, Bytes::from(b"after re-auth".as_slice()))
        .await
        .unwrap();
    match next_event!(client, step) {
        Event::Publish(p) => assert_eq!(p.message.as_bytes(), b"after re-auth"),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
    client.disconnect(&DisconnectOptions::new()).await.unwrap();
}
