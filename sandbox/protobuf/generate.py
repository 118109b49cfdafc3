#!/usr/bin/env python3
"""Writes ../src/server/protobuf-schema.json: every message of Kubernetes' generated.proto files
(k8s.io/api and the apimachinery types they use) as field number -> JSON name and type, which
the sandbox's generic protobuf decoder reads. The proto field names are the JSON names.

And ../src/server/openapi-extensions.json: the OpenAPI extensions upstream's generator derives
from the Go types' struct tags and `+` markers (`x-kubernetes-patch-strategy`,
`x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
`x-kubernetes-map-type`), per definition and field ("" for the definition itself).

Usage: generate.py API_CHECKOUT APIMACHINERY_CHECKOUT
(checkouts of github.com/kubernetes/api and github.com/kubernetes/apimachinery)."""

import json
import pathlib
import re
import sys

FIELD = re.compile(r"^\s*(optional|repeated|required)?\s*([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*[;\[]")
MAP = re.compile(r"^\s*map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")
SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "sint32",
           "sint64", "double", "float", "fixed32", "fixed64", "sfixed32", "sfixed64"}


def qualify(name, package):
    if name in SCALARS:
        return name
    if name.startswith("."):
        return name[1:]
    return f"{package}.{name}"


def parse(path, messages, wrappers):
    package = None
    current = None
    nullable = False
    for raw in path.read_text().splitlines():
        if raw.startswith("//"):
            # `+protobuf.nullable=true` above a message: a Go slice type wrapped for protobuf
            # (`ExtraValue []string`), whose JSON is the list itself.
            nullable = nullable or "+protobuf.nullable=true" in raw
            continue
        line = raw.split("//", 1)[0]
        if m := re.match(r"^package\s+([\w.]+)\s*;", line):
            package = m.group(1)
        elif m := re.match(r"^message\s+(\w+)\s*\{", line):
            current = f"{package}.{m.group(1)}"
            messages[current] = []
            if nullable:
                wrappers.append(current)
        elif re.match(r"^\}", line):
            current = None
        elif current and (m := MAP.match(line)):
            key, value, name, number = m.groups()
            messages[current].append([int(number), name, "m", qualify(key, package),
                                      qualify(value, package)])
        elif current and (m := FIELD.match(line)):
            label, kind, name, number = m.groups()
            messages[current].append([int(number), name, "r" if label == "repeated" else "o",
                                      qualify(kind, package)])
        if line.strip():
            nullable = False


GO_FIELD = re.compile(r'^\t(\w+)\s+(\S+)\s+`json:"([^"]*)"')
GO_SCALARS = {"int", "int32", "int64", "uint32", "uint64", "bool", "float32", "float64",
              "string"}


def omitted_zeros(directory, package, omitzero):
    """Go leaves out the zero value of a non-pointer scalar field tagged `omitempty` when it
    writes JSON, while protobuf carries it: records such fields per message, so the decoder
    drops `paused: false` or `minReadySeconds: 0` as the API server's JSON would."""
    for path in sorted(directory.glob("types*.go")):
        current = None
        for raw in path.read_text().splitlines():
            if m := re.match(r"^type\s+(\w+)\s+struct\s*\{", raw):
                current = f"{package}.{m.group(1)}"
            elif raw.startswith("}"):
                current = None
            elif current and (m := GO_FIELD.match(raw)):
                _, go_type, tag = m.groups()
                name, *options = tag.split(",")
                if go_type in GO_SCALARS and ("omitempty" in options or "omitzero" in options):
                    omitzero.setdefault(current, []).append(name)


TAGGED_FIELD = re.compile(r'^\t(\w+)\s+(\S+)\s+`([^`]*)`')
MARKER = re.compile(r"^\s*//\s*\+(listType|listMapKey|mapType|structType|patchStrategy|patchMergeKey)=(\S+)")


def extensions_of(markers, tag=""):
    """The OpenAPI extensions of one field (or type) from its `+` markers and struct tag."""
    found = {}
    for key, value in markers:
        if key == "listMapKey":
            found.setdefault("x-kubernetes-list-map-keys", []).append(value)
        elif key in ("mapType", "structType"):
            found["x-kubernetes-map-type"] = value
        else:
            name = {"listType": "list-type", "patchStrategy": "patch-strategy",
                    "patchMergeKey": "patch-merge-key"}[key]
            found[f"x-kubernetes-{name}"] = value
    for key, name in (("patchStrategy", "patch-strategy"), ("patchMergeKey", "patch-merge-key")):
        if m := re.search(key + r':"([^"]*)"', tag):
            found[f"x-kubernetes-{name}"] = m.group(1)
    return found


def openapi_extensions(directory, package, out):
    """Records the extensions of the Go types in `directory` under their OpenAPI names
    (`k8s.io.api.core.v1` -> `io.k8s.api.core.v1`)."""
    prefix = "io.k8s." + package.removeprefix("k8s.io.")
    for path in sorted(directory.glob("types*.go")):
        current, markers = None, []
        for raw in path.read_text().splitlines():
            if m := MARKER.match(raw):
                markers.append(m.groups())
                continue
            if m := re.match(r"^type\s+(\w+)\s+struct\s*\{", raw):
                current = f"{prefix}.{m.group(1)}"
                if found := extensions_of(markers):
                    out.setdefault(current, {})[""] = found
            elif raw.startswith("}"):
                current = None
            elif current and (m := TAGGED_FIELD.match(raw)):
                tag = m.group(3)
                if j := re.search(r'json:"([^",]*)', tag):
                    if j.group(1) and (found := extensions_of(markers, tag)):
                        out.setdefault(current, {})[j.group(1)] = found
            if not raw.lstrip().startswith("//"):
                markers = []


def main():
    api, machinery = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    messages, wrappers, omitzero, extensions = {}, [], {}, {}
    for root in (api, machinery):
        for path in sorted(root.rglob("generated.proto")):
            if "testapigroup" in str(path):
                continue
            parse(path, messages, wrappers)
            package = re.search(r"^package\s+([\w.]+)\s*;", path.read_text(), re.M).group(1)
            omitted_zeros(path.parent, package, omitzero)
            openapi_extensions(path.parent, package, extensions)
    for fields in messages.values():
        fields.sort()
    wrappers = [w for w in wrappers
                if [f[:3] for f in messages[w]] == [[1, "items", "r"]]]
    omitzero = {k: sorted(v) for k, v in omitzero.items() if k in messages}
    messages = {"messages": messages, "wrappers": sorted(wrappers), "omitzero": omitzero}
    out = pathlib.Path(__file__).resolve().parent.parent / "src/server/protobuf-schema.json"
    out.write_text(json.dumps(messages, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{len(messages['messages'])} messages, {len(wrappers)} list wrappers -> {out}")
    out = out.with_name("openapi-extensions.json")
    out.write_text(json.dumps(extensions, indent=0, sort_keys=True) + "\n")
    print(f"extensions of {len(extensions)} definitions -> {out}")


if __name__ == "__main__":
    main()
