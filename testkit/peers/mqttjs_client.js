#!/usr/bin/env node
// mqtt.js (npm `mqtt` 5.x) as an MQTT 5 client of the example broker or of Mosquitto with the
// mqtt-scram plugin, with the SCRAM client side written here on Node's own crypto (RFC 5802 §3,
// RFC 7677), through mqtt.js's `authenticationMethod` / `authenticationData` / `handleAuth`.
//
// Run through `mqtt_scram_testkit::mqttjs` (broker/tests/interop, mosquitto/tests/plugin); needs
// `npm ci` here (scripts/setup-test-peers does it).
// Input: one JSON argument {port, tlsPort, caFile, scenarios: [{name, mechanism, user,
// password, tls, pubsub}]}. Output: one JSON line per scenario on stdout:
// {name, connack, serverVerified, received, error}.
//
// mqtt.js has no public API for re-authentication (AUTH 0x19 from the client), so re-auth
// is covered by the rust-mqtt and scramp tests instead.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const mqtt = require('mqtt');

const HASH = { 'SCRAM-SHA-256': 'sha256', 'SCRAM-SHA-512': 'sha512' };

function hashOf(mechanism) {
  const hash = HASH[mechanism.replace(/-PLUS$/, '')];
  if (!hash) throw new Error(`unknown mechanism ${mechanism}`);
  return hash;
}

function hmac(hash, key, data) {
  return crypto.createHmac(hash, key).update(data).digest();
}

function xor(a, b) {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

// RFC 5802 §5.1: "=" and "," in names are escaped as =3D and =2C.
function saslname(name) {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function attrs(message) {
  const out = {};
  for (const part of message.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

class ScramClient {
  constructor(mechanism, user, password) {
    this.mechanism = mechanism;
    this.hash = hashOf(mechanism);
    this.plus = mechanism.endsWith('-PLUS');
    // SASLprep (RFC 4013) approximated by NFKC, which is all the test's passwords need
    // (full SASLprep also maps non-ASCII spaces to U+0020 and prohibits control characters).
    this.password = password.normalize('NFKC');
    this.nonce = crypto.randomBytes(24).toString('base64').replace(/[,=]/g, 'x');
    this.gs2 = this.plus ? 'p=tls-exporter,,' : 'n,,';
    this.firstBare = `n=${saslname(user)},r=${this.nonce}`;
  }

  clientFirst() {
    return Buffer.from(this.gs2 + this.firstBare);
  }

  // server-first → client-final; `cbind` is the tls-exporter data for -PLUS.
  clientFinal(serverFirstBuf, cbind) {
    const serverFirst = serverFirstBuf.toString();
    const a = attrs(serverFirst);
    if (!a.r || !a.r.startsWith(this.nonce) || a.r.length <= this.nonce.length) {
      throw new Error('server nonce does not extend the client nonce');
    }
    const iterations = parseInt(a.i, 10);
    if (!(iterations >= 4096 && iterations <= 1000000)) throw new Error(`iteration count ${a.i} out of range`);
    const salt = Buffer.from(a.s, 'base64');
    const len = this.hash === 'sha256' ? 32 : 64;
    const salted = crypto.pbkdf2Sync(this.password, salt, iterations, len, this.hash);
    const clientKey = hmac(this.hash, salted, 'Client Key');
    const storedKey = crypto.createHash(this.hash).update(clientKey).digest();
    const cbindInput = this.plus ? Buffer.concat([Buffer.from(this.gs2), cbind]) : Buffer.from(this.gs2);
    const withoutProof = `c=${cbindInput.toString('base64')},r=${a.r}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(this.hash, storedKey, authMessage));
    this.expected = hmac(this.hash, hmac(this.hash, salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }

  // server-final → true if v= is the expected ServerSignature (constant time).
  verify(serverFinalBuf) {
    const a = attrs(serverFinalBuf ? serverFinalBuf.toString() : '');
    if (!a.v || !this.expected) return false;
    const v = Buffer.from(a.v, 'base64');
    return v.length === this.expected.length && crypto.timingSafeEqual(v, this.expected);
  }
}

function runScenario(config, scenario) {
  return new Promise((resolve) => {
    const result = { name: scenario.name, connack: null, serverVerified: false, received: null, error: null };
    const scram = new ScramClient(scenario.mechanism, scenario.user, scenario.password);
    const options = {
      protocolVersion: 5,
      clientId: `mqttjs-${scenario.name}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 15000,
      properties: { authenticationMethod: scenario.mechanism, authenticationData: scram.clientFirst() },
    };
    let url = `mqtt://127.0.0.1:${config.port}`;
    if (scenario.tls) {
      url = `mqtts://127.0.0.1:${config.tlsPort}`;
      options.ca = fs.readFileSync(config.caFile);
      options.servername = 'localhost';
      options.rejectUnauthorized = true;
    }
    const client = mqtt.connect(url, options);
    let done = false;
    const timer = setTimeout(() => finish('timeout'), 20000);
    function finish(error) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error && !result.error) result.error = String(error);
      client.end(true, () => resolve(result));
    }
    client.handleAuth = (packet, callback) => {
      try {
        let cbind = null;
        if (scram.plus) {
          // RFC 9266: TLS exporter, label EXPORTER-Channel-Binding, empty context, 32 bytes.
          cbind = client.stream.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
        }
        const data = scram.clientFinal(packet.properties.authenticationData, cbind);
        callback(null, {
          cmd: 'auth',
          reasonCode: 0x18,
          properties: { authenticationMethod: scenario.mechanism, authenticationData: data },
        });
      } catch (e) {
        callback(e);
      }
    };
    client.on('connect', (connack) => {
      result.connack = connack.reasonCode || 0;
      result.serverVerified = scram.verify(connack.properties && connack.properties.authenticationData);
      if (!result.serverVerified) return finish('server signature does not verify');
      if (!scenario.pubsub) return finish();
      const topic = `interop/${scenario.name}`;
      client.on('message', (t, payload) => {
        if (t === topic) {
          result.received = payload.toString();
          finish();
        }
      });
      client.subscribe(topic, { qos: 0 }, (err) => {
        if (err) return finish(err);
        client.publish(topic, `hello from mqtt.js ${scenario.name}`, { qos: 1 }, (err2) => {
          if (err2) finish(err2);
        });
      });
    });
    client.on('error', (err) => {
      if (err && typeof err.code === 'number') result.connack = err.code;
      finish(err && err.message);
    });
    client.on('close', () => finish(result.connack === null ? 'closed before CONNACK' : null));
  });
}

async function main() {
  const config = JSON.parse(process.argv[2]);
  for (const scenario of config.scenarios) {
    const result = await runScenario(config, scenario);
    process.stdout.write(JSON.stringify(result) + '\n');
  }
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ fatal: String(e && e.stack) }) + '\n');
  process.exit(1);
});
