//! Sprig's certificate functions checked by the real `openssl`: a CA from `genCA` signs a
//! certificate that `openssl verify` accepts, with the requested names and IPs, and whose key
//! matches; the same with ECDSA keys given in PEM; a self-signed certificate verifies against
//! itself. Skips with a message when openssl is missing.

use std::process::Command;

use gotemplate::{Value, render};

fn openssl(args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new("openssl").args(args).output().ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), text))
}

fn parts(template: &str) -> Vec<String> {
    let out = render("t", template, &Value::Nil).unwrap_or_else(|e| panic!("{e}"));
    out.split("---SPLIT---").map(str::to_string).collect()
}

#[test]
fn certificates_verify_with_openssl() {
    if openssl(&["version"]).is_none() {
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path.to_string_lossy().into_owned()
    };
    for (label, template) in [
        (
            "rsa",
            r#"{{ $ca := genCA "rill-ca" 30 }}{{ $c := genSignedCert "web.example.com" (list "10.0.0.1") (list "web.example.com" "web") 30 $ca }}{{ $ca.Cert }}---SPLIT---{{ $c.Cert }}---SPLIT---{{ $c.Key }}"#,
        ),
        (
            "ecdsa",
            r#"{{ $ca := genCAWithKey "ec-ca" 30 (genPrivateKey "ecdsa") }}{{ $c := genSignedCertWithKey "web.example.com" (list "10.0.0.1") (list "web.example.com") 30 $ca (genPrivateKey "ecdsa") }}{{ $ca.Cert }}---SPLIT---{{ $c.Cert }}---SPLIT---{{ $c.Key }}"#,
        ),
    ] {
        let p = parts(template);
        let (ca, cert, key) = (
            write("ca.pem", &p[0]),
            write("cert.pem", &p[1]),
            write("key.pem", &p[2]),
        );
        let (ok, text) = openssl(&["verify", "-CAfile", &ca, &cert]).unwrap_or_default();
        assert!(ok && text.contains("OK"), "{label}: {text}");
        let (_, text) = openssl(&["x509", "-in", &cert, "-noout", "-text"]).unwrap_or_default();
        assert!(
            text.contains("DNS:web.example.com") && text.contains("IP Address:10.0.0.1"),
            "{label}: {text}"
        );
        assert!(
            text.contains("Subject: CN = web.example.com")
                && text.contains("TLS Web Server Authentication"),
            "{label}: {text}"
        );
        let (_, cert_key) =
            openssl(&["x509", "-in", &cert, "-noout", "-pubkey"]).unwrap_or_default();
        let (_, own_key) = openssl(&["pkey", "-in", &key, "-pubout"]).unwrap_or_default();
        assert_eq!(cert_key, own_key, "{label}: the key is the certificate's");
    }
    let p = parts(
        r#"{{ $c := genSelfSignedCert "self.example.com" nil (list "self.example.com") 7 }}{{ $c.Cert }}---SPLIT---{{ (buildCustomCert ($c.Cert | b64enc) ($c.Key | b64enc)).Cert }}"#,
    );
    let cert = write("self.pem", &p[0]);
    let (ok, text) = openssl(&["verify", "-CAfile", &cert, &cert]).unwrap_or_default();
    assert!(ok, "self-signed: {text}");
    assert_eq!(p[0], p[1], "buildCustomCert gives back what it was given");
    assert!(
        render(
            "t",
            r#"{{ buildCustomCert "bm90IGEgY2VydA==" "eA==" }}"#,
            &Value::Nil
        )
        .is_err()
    );
}
