#!/usr/bin/env python3
"""Generates kustomize/src/openapi/builtin-schema.json from the OpenAPI bundle kustomize embeds.

Input: kustomize's `kyaml/openapi/kubernetesapi/data/kubernetes-openapi-union-v1.21.2.bundle-v1.json.gz`
(the JSON form of the v1.21.2 `swagger.pb` that kustomize v5.5.0 / kyaml v0.18.1 compiles in; the
bundle records the protobuf's SHA-256, checked below). Output: the parts of that schema a build
decides with, and nothing else:

- `definitions`: every definition naming a kind (`x-kubernetes-group-version-kind`), and the
  definitions and properties on the way to a list with a merge patch strategy, kept with
  `$ref`, `type: array`, `items`, `additionalProperties`, `properties` and the
  `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` / `x-kubernetes-list-map-keys`
  extensions. A property (or `items` / `additionalProperties`) that leads to no such list is
  kept as `{}`: it merges the same either way, but it is described, so kyaml does not look
  for an embedded object's own `apiVersion`/`kind` schema there.
- `scopes`: `[apiVersion, kind, namespaced]` for every kind the schema knows the scope of.

Usage: generate.py <bundle.json.gz> > kustomize/src/openapi/builtin-schema.json
"""

import gzip
import json
import sys

SOURCE_SHA256 = "5d171b55e9601912807a870d73ffe70bb306f5889a00e76986042a0f2d7b6bc2"
EXTENSIONS = ("x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key", "x-kubernetes-list-map-keys")


def main():
    with gzip.open(sys.argv[1], "rt") as f:
        bundle = json.load(f)
    sources = [s["sha256"] for s in bundle["sources"]]
    if sources != [SOURCE_SHA256]:
        sys.exit(f"unexpected source schema {sources}; kustomize v5.5.0 embeds {SOURCE_SHA256}")
    definitions = bundle["definitions"]
    memo = {}

    def ref_name(node):
        ref = node.get("$ref", "")
        return ref[len("#/definitions/"):] if ref.startswith("#/definitions/") else None

    def interesting_definition(name, stack=()):
        if name in memo:
            return memo[name]
        if name in stack or name not in definitions:
            return False
        result = prune(definitions[name], stack + (name,)) is not None
        memo[name] = result
        return result

    def prune_or_leaf(node, stack):
        pruned = prune(node, stack)
        return {} if pruned is None else pruned

    def prune(node, stack):
        """The node reduced to what decides merges, or None when nothing under it does."""
        kept = {}
        name = ref_name(node)
        if name is not None:
            if not interesting_definition(name, stack):
                return None
            kept["$ref"] = node["$ref"]
        strategy = node.get("x-kubernetes-patch-strategy", "")
        if "merge" in [s.strip() for s in strategy.split(",")]:
            for key in EXTENSIONS:
                if key in node:
                    kept[key] = node[key]
        interesting = bool(kept)
        for child_key in ("items", "additionalProperties"):
            child = node.get(child_key)
            if isinstance(child, dict):
                pruned = prune(child, stack)
                interesting = interesting or pruned is not None
                kept[child_key] = {} if pruned is None else pruned
        properties = {}
        for field, child in sorted(node.get("properties", {}).items()):
            pruned = prune(child, stack)
            interesting = interesting or pruned is not None
            properties[field] = {} if pruned is None else pruned
        if properties:
            kept["properties"] = properties
        if not interesting:
            return None
        if node.get("type") == "array":
            kept["type"] = "array"
        return kept

    out = {}
    for name in sorted(definitions):
        definition = definitions[name]
        gvk = definition.get("x-kubernetes-group-version-kind")
        if gvk is None and not interesting_definition(name):
            continue
        pruned = prune_or_leaf(definition, (name,))
        if gvk is not None:
            pruned["x-kubernetes-group-version-kind"] = gvk
        out[name] = pruned
    scopes = sorted(
        [r["apiVersion"], r["kind"], r["scope"] == "Namespaced"]
        for r in bundle["resources"]
        if "scope" in r
    )
    document = {"source": f"kubernetes v1.21.2 swagger.pb sha256 {SOURCE_SHA256}", "definitions": out, "scopes": scopes}
    json.dump(document, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
