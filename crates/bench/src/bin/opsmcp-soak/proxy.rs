//! A TCP proxy in front of a backend that can be taken down and brought back on the same
//! address: down, it refuses new connections and cuts the open ones, which is what a server sees
//! of a backend that was killed; up again, it forwards as before.

use std::net::SocketAddr;

use anyhow::Result;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

pub struct Proxy {
    pub addr: SocketAddr,
    up: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listen on a free loopback port and forward every connection to `backend`.
    pub async fn start(backend: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (up, state) = watch::channel(true);
        let task = tokio::spawn(serve(listener, addr, backend, state));
        Ok(Self { addr, up, task })
    }

    /// Refuse connections and cut the open ones.
    pub fn down(&self) {
        self.up.send_replace(false);
    }

    /// Forward again.
    pub fn up(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut listener: TcpListener,
    addr: SocketAddr,
    backend: SocketAddr,
    mut state: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted.ok(),
            _ = state.wait_for(|up| !up) => None,
        };
        if let Some((client, _)) = accepted {
            tokio::spawn(forward(client, backend, state.clone()));
            continue;
        }
        if *state.borrow() {
            continue; // a failed accept
        }
        // Down: closing the listener makes new connections fail with "connection refused".
        drop(listener);
        if state.wait_for(|up| *up).await.is_err() {
            return;
        }
        listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("proxy: cannot listen on {addr} again: {e}");
                return;
            }
        };
    }
}

async fn forward(mut client: TcpStream, backend: SocketAddr, mut state: watch::Receiver<bool>) {
    let Ok(mut upstream) = TcpStream::connect(backend).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        // Down: both sockets are dropped mid-stream.
        _ = state.wait_for(|up| !up) => {}
    }
}
