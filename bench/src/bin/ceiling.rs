//! The bare tonic server customerhub is measured beside: Echo answers a fixed
//! small message with no work behind it; Subscribe/Publish fan every published
//! event out to every subscriber through one tokio broadcast channel.
use clap::Parser;
use customerhub_bench::pb::{
    EchoRequest, EchoResponse, Event, PublishRequest, PublishResponse, SubscribeRequest,
    ceiling_service_server::{CeilingService, CeilingServiceServer},
};
use futures::{Stream, StreamExt};
use std::{
    net::SocketAddr,
    pin::Pin,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tonic::{Request, Response, Status};

#[derive(Parser)]
#[command(about = "Bare tonic ceiling server: Echo, Subscribe, Publish")]
struct Args {
    /// Address to listen on (port 0: any free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:50151")]
    listen: SocketAddr,
    /// HTTP/2 streams per connection (as customerhub's CUSTOMERHUB_MAX_CONCURRENT_STREAMS).
    #[arg(long, default_value_t = 256)]
    max_concurrent_streams: u32,
}

struct Ceiling {
    events: broadcast::Sender<Event>,
    sequence: AtomicU64,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<Event, Status>> + Send>>;

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or_default()
}

#[tonic::async_trait]
impl CeilingService for Ceiling {
    async fn echo(&self, req: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let id = req.into_inner().id;
        Ok(Response::new(EchoResponse { id, display_name: "Bager Hansen ApS".into() }))
    }

    type SubscribeStream = EventStream;

    async fn subscribe(&self, _req: Request<SubscribeRequest>) -> Result<Response<Self::SubscribeStream>, Status> {
        let stream = BroadcastStream::new(self.events.subscribe()).filter_map(|r| async move { r.ok().map(Ok) });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn publish(&self, req: Request<PublishRequest>) -> Result<Response<PublishResponse>, Status> {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let event = Event { sequence, sent_micros: now_micros(), body: req.into_inner().body };
        // No subscribers is not an error for a publisher.
        let _ = self.events.send(event);
        Ok(Response::new(PublishResponse { sequence }))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let (events, _) = broadcast::channel(1024);
    let svc = CeilingServiceServer::new(Ceiling { events, sequence: AtomicU64::new(0) });
    tonic::transport::Server::builder()
        .max_concurrent_streams(Some(args.max_concurrent_streams))
        .add_service(svc)
        // TCP_NODELAY as customerhub sets it, so both answer without a delayed-ACK stall.
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await?;
    Ok(())
}
