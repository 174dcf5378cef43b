//! Browsers: gRPC-Web over HTTP/1.1 on the gRPC port, and CORS for the
//! configured origins only. Spoken as raw HTTP/1.1 so the test sees exactly
//! the bytes and headers a browser would.
use crate::support::*;
use customerhub::grpc::pb;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP/1.1 request (connection closed after it) and reads the whole response.
async fn http1(app: &TestApp, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n", app.addr);
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    stream.write_all(req.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut raw)).await.unwrap().unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers") + 4;
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split..].to_vec();
    if headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = raw.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size_line = std::str::from_utf8(&raw[..eol]).unwrap();
        let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16).unwrap();
        raw = &raw[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// gRPC-Web frames: (flags, payload).
fn frames(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while body.len() >= 5 {
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        out.push((body[0], body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    out
}

fn grpc_web_frame(message: &impl Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    framed.extend_from_slice(&payload);
    framed
}

const GET_WORKSPACE: &str = "/customerhub.v1.WorkspaceService/GetWorkspace";

async fn preflight(app: &TestApp, origin: &str) -> Response {
    http1(
        app,
        "OPTIONS",
        GET_WORKSPACE,
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization,content-type,x-grpc-web,x-user-agent"),
        ],
        b"",
    )
    .await
}

async fn get_workspace_over_grpc_web(app: &TestApp, origin: &str) -> Response {
    let bearer = format!("Bearer {}", app.admin_key);
    http1(
        app,
        "POST",
        GET_WORKSPACE,
        &[
            ("origin", origin),
            ("authorization", &bearer),
            ("content-type", "application/grpc-web+proto"),
            ("x-grpc-web", "1"),
            ("x-user-agent", "grpc-web-javascript/0.1"),
        ],
        &grpc_web_frame(&pb::GetWorkspaceRequest {}),
    )
    .await
}

fn assert_get_workspace_ok(res: &Response) {
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/grpc-web+proto"));
    let frames = frames(&res.body);
    assert_eq!(frames.len(), 2, "a message and the trailers: {frames:?}");
    let workspace = pb::GetWorkspaceResponse::decode(frames[0].1.as_slice()).unwrap().workspace.unwrap();
    assert_eq!(workspace.name, "Rengøring A/S");
    assert_eq!(frames[1].0 & 0x80, 0x80, "trailer frame");
    let trailers = String::from_utf8(frames[1].1.clone()).unwrap().to_ascii_lowercase();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_with_cors_for_the_configured_origins() {
    let app = spawn_app_with(Backend::Sqlite, None, |s| {
        s.cors_allowed_origins = vec!["https://app.example.dk".into(), "http://localhost:5173".into()];
    })
    .await;

    let pre = preflight(&app, "https://app.example.dk").await;
    assert!((200..300).contains(&pre.status), "preflight answered {}", pre.status);
    assert_eq!(pre.header("access-control-allow-origin"), Some("https://app.example.dk"));
    let allowed = pre.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    for h in ["authorization", "content-type", "x-grpc-web", "x-user-agent"] {
        assert!(allowed.contains(h), "{h} not allowed: {allowed}");
    }
    assert!(pre.header("access-control-allow-methods").unwrap_or_default().contains("POST"));

    let res = get_workspace_over_grpc_web(&app, "https://app.example.dk").await;
    assert_get_workspace_ok(&res);
    assert_eq!(res.header("access-control-allow-origin"), Some("https://app.example.dk"));
    let exposed = res.header("access-control-expose-headers").unwrap_or_default().to_ascii_lowercase();
    for h in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(exposed.contains(h), "{h} not exposed: {exposed}");
    }

    // Another origin gets no CORS grant.
    let pre = preflight(&app, "https://evil.example").await;
    assert_eq!(pre.header("access-control-allow-origin"), None);

    // Errors come back as gRPC-Web too, with their details for the browser to read.
    let res = http1(
        &app,
        "POST",
        "/customerhub.v1.CustomerService/CreateCustomer",
        &[
            ("origin", "http://localhost:5173"),
            ("authorization", &format!("Bearer {}", app.admin_key)),
            ("content-type", "application/grpc-web+proto"),
            ("x-grpc-web", "1"),
        ],
        &grpc_web_frame(&pb::CreateCustomerRequest {
            customer: Some(pb::Customer {
                kind: pb::CustomerKind::Company as i32,
                company_name: "Fejl ApS".into(),
                email: "not-an-email".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), Some("http://localhost:5173"));
    assert_eq!(res.header("grpc-status"), Some("3"), "INVALID_ARGUMENT, trailers-only: {:?}", res.headers);
    assert!(res.header("grpc-status-details-bin").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_without_cors_headers_by_default() {
    let app = spawn_app(Backend::Sqlite).await;
    let pre = preflight(&app, "https://app.example.dk").await;
    assert_eq!(pre.header("access-control-allow-origin"), None);
    let res = get_workspace_over_grpc_web(&app, "https://app.example.dk").await;
    assert_get_workspace_ok(&res);
    assert_eq!(res.header("access-control-allow-origin"), None);
}
