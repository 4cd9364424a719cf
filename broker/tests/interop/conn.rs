//! A minimal MQTT 5 client on the broker's own framing, driving this crate's client.

use super::*;

// ---------------------------------------------------------------------------------------
// A minimal MQTT 5 client on the broker's own framing, driving this crate's client
// ---------------------------------------------------------------------------------------

pub struct Conn<S = TcpStream> {
    pub wire: Wire<S>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            wire: Wire::new(stream, 1 << 20, STEP),
        }
    }

    /// Connects from a chosen loopback source address (all of 127.0.0.0/8 is loopback on
    /// Linux), so tests can play several clients' addresses.
    pub async fn open_from(addr: SocketAddr, source: std::net::IpAddr) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(source, 0)).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            wire: Wire::new(stream, 1 << 20, STEP),
        }
    }
}

impl Conn<tokio_rustls::client::TlsStream<TcpStream>> {
    /// TLS to the broker, trusting its generated certificate; returns the connection's
    /// `tls-exporter` binding as the client computes it (rustls, RFC 9266).
    pub async fn open_tls(
        addr: SocketAddr,
        cert_file: &Path,
        tls12_only: bool,
    ) -> (Self, mqtt_scram::ChannelBinding) {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from_pem_file(cert_file).unwrap())
            .unwrap();
        let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13]
        };
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let stream = connector.connect(name, tcp).await.unwrap();
        let data = stream
            .get_ref()
            .1
            .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(&[]))
            .unwrap();
        let binding = mqtt_scram::ChannelBinding::new(
            mqtt_scram::ChannelBindingType::TlsExporter,
            data.to_vec(),
        );
        (
            Self {
                wire: Wire::new(stream, 1 << 20, STEP),
            },
            binding,
        )
    }
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Conn<S> {
    pub async fn send(&mut self, packet: Packet) {
        self.wire.send(&packet).await.unwrap();
    }

    pub async fn send_auth(&mut self, reason_code: u8, method: &str, data: Vec<u8>) {
        let auth = AuthPacket {
            reason_code,
            method: Some(method.into()),
            data: Some(data),
        };
        self.wire.send_auth(&auth).await.unwrap();
    }

    /// The next packet, or `None` if the broker closed the connection.
    pub async fn recv(&mut self) -> Option<Frame> {
        tokio::time::timeout(STEP, self.wire.read())
            .await
            .expect("broker did not answer in time")
            .ok()
    }

    pub async fn expect_connack(&mut self) -> ConnAck {
        match self.recv().await {
            Some(Frame::Mqtt(Packet::ConnAck(connack))) => connack,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Reads until the broker closes; returns the DISCONNECT reason code if one came.
    pub async fn expect_disconnect(&mut self) -> Option<u8> {
        match self.recv().await {
            Some(Frame::Disconnect { reason_code }) => {
                assert!(
                    self.recv().await.is_none(),
                    "connection still open after DISCONNECT"
                );
                Some(reason_code)
            }
            None => None,
            Some(other) => panic!("expected DISCONNECT, got {other:?}"),
        }
    }
}

/// alice's SCRAM-SHA-256 client-first-message with the test password: the client's state
/// and the bytes for CONNECT.
pub fn alice_first(config: &ClientConfig) -> (client::AwaitingServerFirst, Vec<u8>) {
    client::start(
        config,
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap()
}

pub fn connect_packet(
    client_id: &str,
    method: Option<&str>,
    data: Option<Vec<u8>>,
    login: Option<(&str, &str)>,
) -> Packet {
    let properties = ConnectProperties {
        session_expiry_interval: None,
        receive_maximum: None,
        max_packet_size: None,
        topic_alias_max: None,
        request_response_info: None,
        request_problem_info: None,
        user_properties: Vec::new(),
        authentication_method: method.map(String::from),
        authentication_data: data.map(Into::into),
    };
    let connect = Connect {
        keep_alive: 30,
        client_id: client_id.into(),
        clean_start: true,
        properties: Some(properties),
    };
    let login = login.map(|(username, password)| Login {
        username: username.into(),
        password: password.into(),
    });
    Packet::Connect(connect, None, login)
}

pub fn code(c: ConnectReturnCode) -> u8 {
    match c {
        ConnectReturnCode::Success => 0x00,
        ConnectReturnCode::MalformedPacket => 0x81,
        ConnectReturnCode::ProtocolError => 0x82,
        ConnectReturnCode::BadUserNamePassword => 0x86,
        ConnectReturnCode::NotAuthorized => 0x87,
        ConnectReturnCode::ServerBusy => 0x89,
        ConnectReturnCode::BadAuthenticationMethod => 0x8C,
        ConnectReturnCode::PacketTooLarge => 0x95,
        other => panic!("unexpected CONNACK code {other:?}"),
    }
}

pub fn auth_data(connack: &ConnAck) -> Option<String> {
    let data = connack.properties.as_ref()?.authentication_data.as_ref()?;
    Some(String::from_utf8_lossy(data).into_owned())
}

/// alice logs in with the test password; panics if the broker refuses.
pub async fn alice_logs_in<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    config: &ClientConfig,
    mechanism: Mechanism,
) -> client::Authenticated {
    scram_login(conn, config, mechanism, "alice", PASSWORD)
        .await
        .unwrap()
}

/// A CONNECT exchange with this crate's client. `Err` carries the CONNACK code and data.
pub async fn scram_login<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    config: &ClientConfig,
    mechanism: Mechanism,
    user: &str,
    password: &str,
) -> Result<client::Authenticated, (u8, Option<String>)> {
    scram_login_with(
        conn,
        config,
        mechanism,
        user,
        password,
        client::ClientOptions::default(),
    )
    .await
}

/// [`scram_login`] with client options (channel binding, authzid).
pub async fn scram_login_with<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    config: &ClientConfig,
    mechanism: Mechanism,
    user: &str,
    password: &str,
    options: client::ClientOptions<'_>,
) -> Result<client::Authenticated, (u8, Option<String>)> {
    let (first, data) =
        client::start_with(config, mechanism, user, password, options, &mut rand::rng()).unwrap();
    conn.send(connect_packet(
        &format!("crate-{user}"),
        Some(mechanism.name()),
        Some(data),
        None,
    ))
    .await;
    let server_first = match conn.recv().await {
        Some(Frame::Auth(auth)) if auth.reason_code == 0x18 => {
            assert_eq!(
                auth.method.as_deref(),
                Some(mechanism.name()),
                "[MQTT-4.12.0-5] same method"
            );
            auth.data.unwrap()
        }
        Some(Frame::Mqtt(Packet::ConnAck(c))) => return Err((code(c.code), auth_data(&c))),
        other => panic!("expected AUTH 0x18, got {other:?}"),
    };
    let (last, data) = first.on_server_first(&server_first).unwrap();
    conn.send_auth(0x18, mechanism.name(), data).await;
    let connack = conn.expect_connack().await;
    if connack.code != ConnectReturnCode::Success {
        return Err((code(connack.code), auth_data(&connack)));
    }
    let props = connack.properties.as_ref().unwrap();
    assert_eq!(
        props.authentication_method.as_deref(),
        Some(mechanism.name())
    );
    let server_final = props
        .authentication_data
        .as_ref()
        .expect("CONNACK 0x00 without v=");
    Ok(last
        .on_server_final(server_final)
        .expect("server signature must verify"))
}

/// Re-authenticates on `conn` (AUTH 0x19 → 0x18 → 0x18 → 0x00); `Err` carries the
/// DISCONNECT reason code.
pub async fn scram_reauth<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    authenticated: client::Authenticated,
) -> Result<client::Authenticated, u8> {
    let method = authenticated.mechanism().name();
    let (first, data) = authenticated.reauthenticate(&mut rand::rng());
    conn.send_auth(0x19, method, data).await;
    let server_first = match conn.recv().await {
        Some(Frame::Auth(a)) if a.reason_code == 0x18 => a.data.unwrap(),
        Some(Frame::Disconnect { reason_code }) => return Err(reason_code),
        other => panic!("expected AUTH 0x18, got {other:?}"),
    };
    let (last, data) = first.on_server_first(&server_first).unwrap();
    conn.send_auth(0x18, method, data).await;
    match conn.recv().await {
        Some(Frame::Auth(a)) if a.reason_code == 0x00 => {
            assert_eq!(a.method.as_deref(), Some(method));
            Ok(last
                .on_server_final(&a.data.unwrap())
                .expect("re-auth server signature"))
        }
        Some(Frame::Disconnect { reason_code }) => Err(reason_code),
        other => panic!("expected AUTH 0x00, got {other:?}"),
    }
}

pub async fn stream_write(wire: &mut Wire<TcpStream>, bytes: &[u8]) -> std::io::Result<()> {
    // Raw bytes through the connection, bypassing the encoder.
    wire.send_raw(bytes).await
}
