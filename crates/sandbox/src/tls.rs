//! The sandbox's own certificate authority, for the stand-ins of services that are HTTPS only
//! (PagerDuty's official client refuses any other scheme): a CA made at start-up, one
//! certificate for `localhost` and `127.0.0.1` signed by it, and the CA in PEM for clients to
//! trust (`PAGERDUTY_CA_FILE`, `verify=` in Python).

use std::net::SocketAddr;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A CA and a server certificate signed by it.
#[derive(Debug, Clone)]
pub struct Authority {
    /// The CA certificate, PEM: what clients trust.
    pub ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Authority {
    /// A new CA and a certificate for `localhost`, `127.0.0.1` and `::1`.
    pub fn new() -> Result<Self, rcgen::Error> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.distinguished_name
            .push(DnType::CommonName, "opsmcp sandbox CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let mut leaf = CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])?;
        leaf.distinguished_name
            .push(DnType::CommonName, "opsmcp sandbox");
        let key = KeyPair::generate()?;
        let cert = leaf.signed_by(&key, &issuer)?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Serve `app` over HTTPS on `listen`; returns the bound address and the serving task.
    pub async fn serve(
        &self,
        listen: SocketAddr,
        app: axum::Router,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let config = axum_server::tls_rustls::RustlsConfig::from_pem(
            self.cert_pem.clone().into_bytes(),
            self.key_pem.clone().into_bytes(),
        )
        .await?;
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let server = axum_server::from_tcp_rustls(listener, config)?;
        let task = tokio::spawn(async move {
            let _ = server.serve(app.into_make_service()).await;
        });
        Ok((addr, task))
    }
}
