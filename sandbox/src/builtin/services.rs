//! Services: upstream's `SetDefaults_Service`, cluster IP and node port allocation from the
//! service CIDR `10.96.0.0/12` and the range 30000-32767, the values an update carries over
//! from the stored object (`patchAllocatedValues`), and `ValidateService(Update)`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::field_errors::FieldErrors;
use super::{list_mut, set_default};

/// The service CIDR's network and prefix length.
const CIDR: (u32, u32) = (0x0A60_0000, 12);
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;
const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

fn kind_of(spec: &Value) -> &str {
    spec["type"].as_str().unwrap_or("ClusterIP")
}

fn needs_node_ports(spec: &Value) -> bool {
    matches!(kind_of(spec), "NodePort" | "LoadBalancer")
}

/// `SetDefaults_Service`.
pub fn default_service(service: &mut Value) {
    let spec = &mut service["spec"];
    if !spec.is_object() {
        return;
    }
    set_default(spec, "sessionAffinity", json!("None"));
    if spec["sessionAffinity"] == "None"
        && let Some(map) = spec.as_object_mut()
    {
        map.remove("sessionAffinityConfig");
    }
    if spec["sessionAffinity"] == "ClientIP"
        && spec["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"].is_null()
    {
        spec["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 10800}});
    }
    set_default(spec, "type", json!("ClusterIP"));
    for port in list_mut(spec, "ports") {
        set_default(port, "protocol", json!("TCP"));
        if port["targetPort"].is_null() || port["targetPort"] == 0 || port["targetPort"] == "" {
            port["targetPort"] = port["port"].clone();
        }
    }
    if needs_node_ports(spec)
        || spec["externalIPs"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(
        spec["type"].as_str(),
        Some("ClusterIP" | "NodePort" | "LoadBalancer")
    ) {
        set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if spec["type"] == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

/// What is already taken by other Services: cluster IPs and node ports.
#[derive(Debug, Default)]
pub struct Allocated {
    /// Cluster IPs in use.
    pub ips: BTreeSet<Ipv4Addr>,
    /// Node ports in use.
    pub node_ports: BTreeSet<i64>,
}

impl Allocated {
    /// Collects what `services` (other than the one being written) hold.
    pub fn of<'a>(services: impl Iterator<Item = &'a Value>) -> Self {
        let mut taken = Self::default();
        for service in services {
            let spec = &service["spec"];
            for ip in spec["clusterIPs"].as_array().into_iter().flatten() {
                if let Some(ip) = ip.as_str().and_then(|s| s.parse().ok()) {
                    taken.ips.insert(ip);
                }
            }
            for port in spec["ports"].as_array().into_iter().flatten() {
                if let Some(n) = port["nodePort"].as_i64() {
                    taken.node_ports.insert(n);
                }
            }
        }
        taken
    }
}

fn in_range(ip: Ipv4Addr) -> bool {
    let (network, prefix) = CIDR;
    u32::from(ip) >> (32 - prefix) == network >> (32 - prefix)
}

/// A free address of the range, chosen at random as the allocator does (never the network
/// address, the broadcast address or the API server's `.1`).
fn free_ip(taken: &BTreeSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let (network, prefix) = CIDR;
    let size = 1u32 << (32 - prefix);
    let start: u32 = rand::random::<u32>() % size;
    (0..size)
        .map(|i| network + (start + i) % size)
        .filter(|n| n & (size - 1) > 1 && n & (size - 1) != size - 1)
        .map(Ipv4Addr::from)
        .find(|ip| !taken.contains(ip))
}

fn free_node_port(taken: &BTreeSet<i64>) -> Option<i64> {
    let size = NODE_PORTS.end() - NODE_PORTS.start() + 1;
    let start = i64::from(rand::random::<u16>()) % size;
    (0..size)
        .map(|i| NODE_PORTS.start() + (start + i) % size)
        .find(|p| !taken.contains(p))
}

/// On updates: what the client left out of the spec and the server allocated stays
/// (`patchAllocatedValues`): cluster IPs and families, node ports matched by port name.
pub fn carry_over(new: &mut Value, old: &Value) {
    let (spec, old_spec) = (&mut new["spec"], &old["spec"]);
    if !spec.is_object() || kind_of(spec) == "ExternalName" || kind_of(old_spec) == "ExternalName" {
        return;
    }
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        let missing = spec[field].is_null()
            || spec[field] == ""
            || spec[field].as_array().is_some_and(Vec::is_empty);
        if missing && !old_spec[field].is_null() {
            spec[field] = old_spec[field].clone();
        }
    }
    if spec["clusterIP"] != old_spec["clusterIP"] && spec["clusterIPs"] == old_spec["clusterIPs"] {
        // A changed `clusterIP` speaks for `clusterIPs[0]` (the strategy's normalisation).
        spec["clusterIPs"] = json!([spec["clusterIP"].clone()]);
    }
    if needs_node_ports(spec) && needs_node_ports(old_spec) {
        let old_ports = old_spec["ports"].as_array().cloned().unwrap_or_default();
        for port in list_mut(spec, "ports") {
            if port["nodePort"].as_i64().unwrap_or(0) != 0 {
                continue;
            }
            if let Some(old_port) = old_ports.iter().find(|p| p["name"] == port["name"]) {
                port["nodePort"] = old_port["nodePort"].clone();
            }
        }
        if spec["healthCheckNodePort"].is_null() && !old_spec["healthCheckNodePort"].is_null() {
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"].clone();
        }
    }
}

/// Validates the Service, then allocates what it still lacks (on create and when an update
/// turns a Service into one that needs node ports). `taken` reads what other Services hold;
/// it runs only when something is to be allocated or checked, not on every update.
pub fn validate_and_allocate(
    new: &mut Value,
    old: Option<&Value>,
    taken: impl Fn() -> Allocated,
    errors: &mut FieldErrors,
) {
    let read = std::cell::OnceCell::new();
    let taken = || read.get_or_init(&taken);
    validate(new, old, errors);
    if !errors.0.is_empty() {
        return;
    }
    let spec = &mut new["spec"];
    if kind_of(spec) == "ExternalName" {
        return;
    }
    let requested = spec["clusterIP"].as_str().unwrap_or("").to_string();
    let keeps_ip = old.is_some_and(|o| o["spec"]["clusterIP"].as_str() == Some(&requested));
    match requested.as_str() {
        "None" => {}
        "" => match free_ip(&taken().ips) {
            Some(ip) => spec["clusterIP"] = json!(ip.to_string()),
            None => errors.invalid("spec.clusterIPs", &json!([]), "range is full"),
        },
        ip if !keeps_ip => {
            let parsed: Option<Ipv4Addr> = ip.parse().ok();
            let detail = match parsed {
                Some(ip) if !in_range(ip) => Some(format!(
                    "failed to allocate IP {ip}: provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12"
                )),
                Some(ip) if taken().ips.contains(&ip) => Some(format!(
                    "failed to allocate IP {ip}: provided IP is already allocated"
                )),
                _ => None,
            };
            if let Some(detail) = detail {
                errors.invalid("spec.clusterIPs", &json!([ip]), &detail);
            }
        }
        _ => {}
    }
    spec["clusterIPs"] = json!([spec["clusterIP"].clone()]);
    set_default(spec, "ipFamilies", json!(["IPv4"]));
    set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
    let unallocated = |p: &Value| p["nodePort"].as_i64().unwrap_or(0) == 0;
    if needs_node_ports(spec)
        && spec["ports"]
            .as_array()
            .is_some_and(|p| p.iter().any(unallocated))
    {
        let mut used = taken().node_ports.clone();
        for port in list_mut(spec, "ports") {
            if port["nodePort"].as_i64().unwrap_or(0) == 0
                && let Some(n) = free_node_port(&used)
            {
                port["nodePort"] = json!(n);
                used.insert(n);
            }
        }
    }
}

fn validate(new: &Value, old: Option<&Value>, errors: &mut FieldErrors) {
    let spec = &new["spec"];
    errors.one_of("spec.type", &spec["type"], &TYPES);
    let kind = kind_of(spec);
    let ports = spec["ports"].as_array().map_or(&[][..], Vec::as_slice);
    let headless = spec["clusterIP"] == "None";
    if kind == "ExternalName" {
        if spec["externalName"].as_str().is_none_or(str::is_empty) {
            errors.required("spec.externalName", "");
        }
    } else if ports.is_empty() && !headless {
        errors.required("spec.ports", "");
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        match port["name"].as_str().unwrap_or("") {
            "" if ports.len() > 1 => errors.required(&format!("{at}.name"), ""),
            "" => {}
            name if !names.insert(name.to_string()) => {
                errors.duplicate(&format!("{at}.name"), &port["name"]);
            }
            _ => {}
        }
        errors.port_number(&format!("{at}.port"), &port["port"], false);
        errors.one_of(
            &format!("{at}.protocol"),
            &port["protocol"],
            &["SCTP", "TCP", "UDP"],
        );
        if let Some(n) = port["nodePort"].as_i64()
            && n != 0
            && !NODE_PORTS.contains(&n)
        {
            errors.invalid(
                &format!("{at}.nodePort"),
                &port["nodePort"],
                "provided port is not in the valid range. The range of valid ports is 30000-32767",
            );
        }
    }
    if let Some(ip) = spec["clusterIP"].as_str()
        && !matches!(ip, "" | "None")
        && ip.parse::<Ipv4Addr>().is_err()
    {
        errors.invalid(
            "spec.clusterIPs[0]",
            &spec["clusterIP"],
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        );
    }
    errors.one_of(
        "spec.sessionAffinity",
        &spec["sessionAffinity"],
        &["ClientIP", "None"],
    );
    if let Some(old) = old {
        let old_spec = &old["spec"];
        let was_set = old_spec["clusterIP"]
            .as_str()
            .is_some_and(|s| !s.is_empty());
        if kind != "ExternalName"
            && kind_of(old_spec) != "ExternalName"
            && was_set
            && spec["clusterIPs"] != old_spec["clusterIPs"]
        {
            errors.invalid(
                "spec.clusterIPs[0]",
                &spec["clusterIPs"],
                "may not change once set",
            );
        }
    }
}

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;
