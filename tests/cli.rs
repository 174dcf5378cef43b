//! The operator contract, through the real binary: `bootstrap` prints the key
//! last, `serve` runs on a fresh folder with SQLite and writes mail as `.eml`
//! files, and stops cleanly on SIGTERM.
use customerhub::grpc::pb::{self, customer_service_client::CustomerServiceClient};
use std::{
    net::TcpListener,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};
use tonic::{Request, metadata::MetadataValue};

const BIN: &str = env!("CARGO_BIN_EXE_customerhub");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn customerhub(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("CUSTOMERHUB_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("CUSTOMERHUB_PASSWORD_HASH_MEMORY_KIB", "1024");
    cmd
}

#[tokio::test]
async fn fresh_folder_bootstrap_serve_and_mail_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = customerhub(dir.path())
        .args(["bootstrap", "--workspace", "Rengøring A/S", "--admin-email", "admin@example.dk"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim().to_string();
    assert!(key.starts_with("chk_"), "last line is the key: {stdout}");
    assert!(dir.path().join("data/customerhub.db").exists(), "SQLite file under ./data");

    let port = free_port();
    let mut server = customerhub(dir.path())
        .arg("serve")
        .env("CUSTOMERHUB_LISTEN", format!("127.0.0.1:{port}"))
        .env("CUSTOMERHUB_DELIVERY_POLL_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let channel = {
        let mut tries = 0;
        loop {
            match tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await {
                Ok(c) => break c,
                Err(_) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("server did not start: {e}"),
            }
        }
    };
    let bearer: MetadataValue<_> = format!("Bearer {key}").parse().unwrap();
    let mut client = CustomerServiceClient::with_interceptor(channel, move |mut req: Request<()>| {
        req.metadata_mut().insert("authorization", bearer.clone());
        Ok(req)
    });
    let customer = client
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(pb::Customer {
                kind: pb::CustomerKind::Private as i32,
                first_name: "Karen".into(),
                last_name: "Blixen".into(),
                email: "karen@example.dk".into(),
                hub_access: true,
                ..Default::default()
            }),
            send_welcome_mail: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(customer.display_name, "Karen Blixen");

    // The background worker writes the welcome mail into ./data/mail.
    let mail_dir = dir.path().join("data/mail");
    let mut eml = None;
    for _ in 0..100 {
        eml = std::fs::read_dir(&mail_dir)
            .ok()
            .and_then(|mut d| d.find_map(|e| e.ok().filter(|e| e.path().extension().is_some_and(|x| x == "eml"))));
        if eml.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let eml = std::fs::read_to_string(eml.expect("an .eml file in data/mail").path()).unwrap();
    assert!(eml.contains("To: karen@example.dk"), "{eml}");
    assert!(eml.contains("activate?token="));

    // SIGTERM: a graceful stop with exit code 0.
    let pid = server.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = server.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.unwrap_or_else(|| {
        let _ = server.kill();
        panic!("serve did not stop on SIGTERM")
    });
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_bad_setting_stops_the_service_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = customerhub(dir.path()).arg("migrate").env("CUSTOMERHUB_LOG_FORMAT", "xml").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CUSTOMERHUB_LOG_FORMAT"));
    let out = customerhub(dir.path()).arg("migrate").env("CUSTOMERHUB_DATABASE_URL", "mysql://x").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CUSTOMERHUB_DATABASE_URL"));
    let out = customerhub(dir.path())
        .args(["bootstrap", "--workspace", "X", "--admin-email", "not-an-email"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin_email"));
}

#[test]
fn migrate_on_postgres() {
    let name = format!("customerhub_test_{}", uuid::Uuid::new_v4().simple());
    let psql = |sql: &str| {
        let ok = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql])
            .status()
            .expect("psql is installed");
        assert!(ok.success(), "{sql}");
    };
    psql(&format!("CREATE DATABASE {name}"));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    for _ in 0..2 {
        let out = customerhub(dir.path()).arg("migrate").env("CUSTOMERHUB_DATABASE_URL", &url).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = customerhub(dir.path())
        .args(["bootstrap", "--workspace", "PG", "--admin-email", "pg@example.dk"])
        .env("CUSTOMERHUB_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.path().join("data/customerhub.db").exists(), "no SQLite file when PostgreSQL is configured");
    psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
}

/// With `CUSTOMERHUB_OTLP_ENDPOINT` set, spans (one per RPC) are exported over
/// OTLP/HTTP to that collector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_are_exported_over_otlp() {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let sink = received.clone();
    let collector = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                sink.lock().unwrap().push((ct, body.len()));
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, collector).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let out = customerhub(dir.path())
        .args(["bootstrap", "--workspace", "Spor", "--admin-email", "admin@example.dk"])
        .output()
        .unwrap();
    let key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string();
    let port = free_port();
    let mut server = customerhub(dir.path())
        .arg("serve")
        .env("CUSTOMERHUB_LISTEN", format!("127.0.0.1:{port}"))
        .env("CUSTOMERHUB_HTTP_LISTEN", "127.0.0.1:0")
        .env("CUSTOMERHUB_OTLP_ENDPOINT", format!("http://{collector_addr}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let channel = loop {
        if let Ok(c) =
            tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await
        {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let bearer: MetadataValue<_> = format!("Bearer {key}").parse().unwrap();
    let mut client = CustomerServiceClient::with_interceptor(channel, move |mut req: Request<()>| {
        req.metadata_mut().insert("authorization", bearer.clone());
        Ok(req)
    });
    client.list_customers(pb::ListCustomersRequest::default()).await.unwrap();
    let mut got = false;
    for _ in 0..100 {
        if !received.lock().unwrap().is_empty() {
            got = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(got, "no OTLP export reached the collector");
    let (ct, len) = received.lock().unwrap()[0].clone();
    assert_eq!(ct, "application/x-protobuf");
    assert!(len > 0);
}
