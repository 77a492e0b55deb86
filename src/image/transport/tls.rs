//! `wss://`: TLS to a terminator in front of the agent (nginx, stunnel), with rustls. The
//! certificate is always verified: against the system's CA certificates, or, when the target
//! names a `ca_file`, against the CAs in that file alone (a private CA; a certificate from any
//! other CA, public ones included, is refused).

use super::super::client::{ClientError, TransportProblem};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Runs the TLS handshake on `tcp` for `host`, verifying its certificate.
pub(super) async fn handshake(
    url: &str,
    host: &str,
    tcp: TcpStream,
    ca_file: Option<&Path>,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let refused = |problem, detail: String| ClientError::Transport {
        url: url.to_owned(),
        problem,
        detail,
    };
    let config = client_config(ca_file).map_err(|d| refused(TransportProblem::CaFile, d))?;
    let name = ServerName::try_from(host.to_owned()).map_err(|e| {
        refused(
            TransportProblem::Certificate,
            format!("{host} cannot be checked against a certificate: {e}"),
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector.connect(name, tcp).await.map_err(|e| {
        let trusted_by = match ca_file {
            Some(f) => format!("the CA in ca_file {}", f.display()),
            None => "the system's CA certificates (set ca_file for a private CA)".to_owned(),
        };
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(rustls::Error::InvalidCertificate(cert)) => {
                use rustls::CertificateError as C;
                let what = match cert {
                    C::UnknownIssuer => format!("is not signed by {trusted_by}"),
                    C::NotValidForName | C::NotValidForNameContext { .. } => {
                        format!("is not valid for the name {host} (the URL's host)")
                    }
                    C::Expired | C::ExpiredContext { .. } => "has expired".to_owned(),
                    C::NotValidYet | C::NotValidYetContext { .. } => "is not valid yet".to_owned(),
                    other => format!("was refused ({other:?})"),
                };
                refused(
                    TransportProblem::Certificate,
                    format!("the TLS certificate of {host} {what}; nothing was sent"),
                )
            }
            Some(other @ rustls::Error::InvalidMessage(_)) => refused(
                TransportProblem::NotTls,
                format!(
                    "{host} did not answer with TLS ({other}); a wss:// URL must name a TLS \
                         terminator, a plain agent is reached with ws://"
                ),
            ),
            Some(other) => refused(
                TransportProblem::Certificate,
                format!("the TLS handshake with {host} failed: {other}"),
            ),
            // Not a TLS error: the connection itself broke (the terminator went away).
            None => ClientError::Connect {
                url: url.to_owned(),
                reason: format!("the TLS handshake broke off: {e}"),
            },
        }
    })
}

/// A client configuration trusting `ca_file`'s certificates, or the system's.
fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect())
                .map_err(|e| {
                    format!("cannot read the CA certificates in {}: {e}", path.display())
                })?;
            if certs.is_empty() {
                return Err(format!(
                    "ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    path.display()
                ));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    format!(
                        "ca_file {}: a certificate is not usable: {e}",
                        path.display()
                    )
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(
                    "no CA certificates found on this system (install ca-certificates, or set \
                     ca_file to the CA that signed the terminator's certificate)"
                        .into(),
                );
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
