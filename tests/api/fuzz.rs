//! Every RPC, found from the served descriptor set, called with arbitrary
//! bytes and with every kind of wrong credential: never a panic, never
//! INTERNAL or UNKNOWN, and the right code for credentials.
use super::raw_rpc::{call, methods};
use crate::support::*;
use bytes::Bytes;
use customerhub::grpc::pb;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tonic::Code;

fn code(a: super::raw_rpc::Answer) -> Code {
    a.map_or_else(|s| s.code(), |_| Code::Ok)
}

pub const PUBLIC: &[&str] = &[
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
            let code = code(call(&app, &m, Some(token), Bytes::from(body)).await);
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
/// key, a HUB session on a staff service, an API key on a HUB-session call and
/// an expired HUB session all answer UNAUTHENTICATED, before any data is read.
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
    // A session that has outlived its time: the clock moves past it, and a
    // fresh session (and the API keys, which do not expire) still work.
    let expired = session.clone();
    app.clock.advance(chrono::Duration::hours(app.state.settings.session_ttl_hours + 1));
    let session = app.hub_session_for(&c.contacts[0].id).await;
    app.hub(&session).get_profile(pb::GetProfileRequest::default()).await.expect("a fresh session works");
    let mut cells = 0;
    for m in methods() {
        if PUBLIC.contains(&m.path.as_str()) {
            continue;
        }
        let hub = m.path.starts_with("/customerhub.v1.HubService/");
        let wrong_kind = if hub { app.admin_key.clone() } else { session.clone() };
        let mut tokens = vec![None, Some("chk_unknown"), Some(revoked.as_str()), Some(wrong_kind.as_str())];
        if hub {
            tokens.push(Some(expired.as_str()));
        }
        for token in tokens {
            let code = code(call(&app, &m, token, Bytes::new()).await);
            assert_eq!(code, Code::Unauthenticated, "{} with {token:?}", m.path);
            cells += 1;
        }
    }
    assert!(cells >= 340, "{cells}");
}
