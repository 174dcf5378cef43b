//! Every RPC, found from the served descriptor set, called with arbitrary
//! bytes and with every kind of wrong credential: never a panic, never
//! INTERNAL or UNKNOWN, and the right code for credentials.
use crate::support::*;
use bytes::{Buf, BufMut, Bytes};
use customerhub::grpc::pb;
use prost::Message;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tonic::{
    Code, Request, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    metadata::MetadataValue,
};

#[derive(Clone, Default)]
struct RawCodec;
struct RawEncoder;
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

struct Method {
    path: String,
    client_streaming: bool,
    server_streaming: bool,
}

fn methods() -> Vec<Method> {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = vec![];
    for file in set.file.iter().filter(|f| f.package() == "customerhub.v1") {
        for svc in &file.service {
            for m in &svc.method {
                out.push(Method {
                    path: format!("/customerhub.v1.{}/{}", svc.name(), m.name()),
                    client_streaming: m.client_streaming(),
                    server_streaming: m.server_streaming(),
                });
            }
        }
    }
    assert!(out.len() >= 90, "every service's methods: {}", out.len());
    out
}

/// Calls `m` with `body`; returns the status code (for streams, of the first event).
async fn call(app: &TestApp, m: &Method, token: Option<&str>, body: Bytes) -> Code {
    let mut grpc = tonic::client::Grpc::new(app.channel());
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::try_from(m.path.as_str()).unwrap();
    fn auth<T>(mut r: Request<T>, token: Option<&str>) -> Request<T> {
        if let Some(t) = token {
            r.metadata_mut().insert("authorization", MetadataValue::try_from(format!("Bearer {t}")).unwrap());
        }
        r
    }
    let result = match (m.client_streaming, m.server_streaming) {
        (false, false) => grpc.unary(auth(Request::new(body), token), path, RawCodec).await.map(|_| ()),
        (false, true) => match grpc.server_streaming(auth(Request::new(body), token), path, RawCodec).await {
            Ok(resp) => {
                let mut s = resp.into_inner();
                tokio::time::timeout(std::time::Duration::from_secs(5), s.message())
                    .await
                    .map_or(Ok(()), |r| r.map(|_| ()))
            }
            Err(e) => Err(e),
        },
        (true, _) => {
            let stream = tokio_stream::iter(vec![body.clone(), body]);
            grpc.client_streaming(auth(Request::new(stream), token), path, RawCodec).await.map(|_| ())
        }
    };
    match result {
        Ok(()) => Code::Ok,
        Err(s) => s.code(),
    }
}

const PUBLIC: &[&str] = &[
    "/customerhub.v1.HubService/ActivateAccount",
    "/customerhub.v1.HubService/Login",
    "/customerhub.v1.HubService/Unsubscribe",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_bytes_to_every_rpc_never_break_the_server() {
    let app = spawn_app_with(Backend::Sqlite, None, |s| s.rate_limit_per_second = 0).await;
    let c = app.welcomed_company("Fuzz ApS", &[("Fie", "Fuzz", "fie@fuzz.example.dk")]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut tried = 0;
    for m in methods() {
        let token =
            if m.path.starts_with("/customerhub.v1.HubService/") { session.as_str() } else { app.admin_key.as_str() };
        for round in 0..12 {
            let len = if round == 0 { 0 } else { rng.random_range(1..200) };
            let body: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let code = call(&app, &m, Some(token), Bytes::from(body)).await;
            assert!(
                !matches!(code, Code::Internal | Code::Unknown | Code::Unimplemented),
                "{} answered {code:?}",
                m.path
            );
            tried += 1;
        }
    }
    assert!(tried >= 1000);
    // Still serving.
    app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap();
}

/// The credential matrix over every RPC: no key, an unknown key, a revoked
/// key, a HUB session on a staff service and an API key on a HUB-session call
/// all answer UNAUTHENTICATED, before any data is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_demands_the_right_credential() {
    let app = spawn_app(Backend::Sqlite).await;
    let c = app.welcomed_company("Matrix ApS", &[("Mia", "Matrix", "mia@matrix.example.dk")]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let (_, revoked) = app.staff_with_key("gone@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    let keys =
        app.admin_workspace().list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys;
    let k = keys.iter().find(|k| revoked.starts_with(&k.prefix)).unwrap();
    app.admin_workspace().revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: k.id.clone() }).await.unwrap();
    let mut cells = 0;
    for m in methods() {
        if PUBLIC.contains(&m.path.as_str()) {
            continue;
        }
        let hub = m.path.starts_with("/customerhub.v1.HubService/");
        let wrong_kind = if hub { app.admin_key.clone() } else { session.clone() };
        for token in [None, Some("chk_unknown"), Some(revoked.as_str()), Some(wrong_kind.as_str())] {
            let code = call(&app, &m, token, Bytes::new()).await;
            assert_eq!(code, Code::Unauthenticated, "{} with {token:?}", m.path);
            cells += 1;
        }
    }
    assert!(cells >= 340, "{cells}");
}
