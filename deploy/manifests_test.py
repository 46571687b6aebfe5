"""manifests_test: the Kubernetes manifests in deploy/ parse, carry what a safe smimed
deployment needs, and agree with each other and with the binaries' flags.

No cluster here, so this is what can be checked offline: YAML syntax (python3-yaml),
required fields, ports consistent between the Deployment, its probes and the Services,
every Secret and key that is referenced defined by the template, every file a flag names
provided by a mount, the security settings, and each flag known to smimed --help.
"""

import os
import re
import subprocess
import sys
import unittest

import yaml

RUNFILES = os.environ.get("TEST_SRCDIR", "")
WORKSPACE = os.environ.get("TEST_WORKSPACE", "smimed")


def runfile(path):
    candidate = os.path.join(RUNFILES, WORKSPACE, path)
    return candidate if os.path.exists(candidate) else path


def load(name):
    with open(runfile("deploy/" + name)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for d in docs:
        for field in ("apiVersion", "kind", "metadata"):
            assert field in d, "%s: a document lacks %s" % (name, field)
        assert d["metadata"].get("name"), "%s: a %s has no name" % (name, d["kind"])
    return docs


def only(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or
                                                        d["metadata"]["name"] == name)]
    assert len(found) == 1, "expected one %s %s, found %d" % (kind, name or "", len(found))
    return found[0]


def flag(args, name):
    """flag returns the value of --name=VALUE (or --name VALUE) in args, or None."""
    for i, a in enumerate(args):
        if a.startswith(name + "="):
            return a[len(name) + 1:]
        if a == name and i + 1 < len(args):
            return args[i + 1]
    return None


class ManifestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deployment = only(load("deployment.yaml"), "Deployment", "smimed")
        cls.services = [d for d in load("service.yaml") if d["kind"] == "Service"]
        cls.pdb = only(load("service.yaml"), "PodDisruptionBudget")
        cls.secrets = {d["metadata"]["name"]: d for d in load("secrets.template.yaml")
                       if d["kind"] == "Secret"}
        cls.pod = cls.deployment["spec"]["template"]["spec"]
        cls.container = [c for c in cls.pod["containers"] if c["name"] == "smimed"][0]
        cls.args = cls.container["command"][1:] + cls.container["args"]
        cls.volumes = {v["name"]: v for v in cls.pod["volumes"]}

    def test_every_file_parses_with_the_required_fields(self):
        names = sorted(f for f in os.listdir(runfile("deploy")) if f.endswith(".yaml"))
        self.assertEqual(names, ["deployment.yaml", "kustomization.yaml",
                                 "secrets.template.yaml", "service.yaml"])
        kustomization = load_plain("kustomization.yaml")
        for resource in kustomization["resources"]:
            self.assertIn(resource, names)
        self.assertNotIn("secrets.template.yaml", kustomization["resources"],
                         "placeholders must never be applied as they are")

        self.assertEqual(self.deployment["apiVersion"], "apps/v1")
        spec = self.deployment["spec"]
        self.assertGreaterEqual(spec["replicas"], 2, "scale-out: two replicas at least")
        labels = spec["template"]["metadata"]["labels"]
        self.assertLessEqual(spec["selector"]["matchLabels"].items(), labels.items())
        for svc in self.services:
            self.assertLessEqual(svc["spec"]["selector"].items(), labels.items(),
                                 svc["metadata"]["name"])
        self.assertLessEqual(self.pdb["spec"]["selector"]["matchLabels"].items(),
                             labels.items())
        self.assertTrue(self.container["image"])
        for c in self.pod["containers"] + self.pod.get("initContainers", []):
            res = c["resources"]
            self.assertTrue(res["requests"]["cpu"] and res["requests"]["memory"], c["name"])
            self.assertTrue(res["limits"]["memory"], c["name"])

    def test_ports_agree_between_flags_container_probes_and_services(self):
        listen = flag(self.args, "--listen")
        self.assertIsNotNone(listen, "smimed listens on TCP for the helpdesk's services")
        port = int(listen.rsplit(":", 1)[1])
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        self.assertEqual(ports, {"grpc": port})
        for svc in self.services:
            for p in svc["spec"]["ports"]:
                target = p["targetPort"]
                self.assertEqual(ports.get(target, target), port, svc["metadata"]["name"])
        socket = flag(self.args, "--socket")
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            spec = self.container[probe]
            if "grpc" in spec:
                self.assertEqual(spec["grpc"]["port"], port, probe)
                continue
            command = spec["exec"]["command"]
            self.assertEqual(command[-1], "check", probe + " asks grpc.health.v1 Check")
            addr = flag(command, "--addr")
            self.assertEqual(addr, "unix:" + socket, probe + " uses the pod's own socket")
            self.assertTrue(self.mount_for(socket), "the socket directory is a volume")
            self.assertLess(int(flag(command, "--deadline")), spec["timeoutSeconds"], probe)

    def mount_for(self, path, container=None):
        """mount_for returns (mount, volume) of the mount holding path, or None."""
        best = None
        for m in (container or self.container)["volumeMounts"]:
            if path.startswith(m["mountPath"].rstrip("/") + "/"):
                if best is None or len(m["mountPath"]) > len(best[0]["mountPath"]):
                    best = (m, self.volumes[m["name"]])
        return best

    def test_every_mounted_or_referenced_secret_is_defined(self):
        used = set()
        for c in self.pod["containers"] + self.pod.get("initContainers", []):
            for m in c.get("volumeMounts", []):
                self.assertIn(m["name"], self.volumes, "%s mounts an undefined volume" % c["name"])
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    self.assertIn(ref["name"], self.secrets, e["name"])
                    self.assertIn(ref["key"], self.secrets[ref["name"]]["stringData"], e["name"])
                    used.add(ref["name"])
        for v in self.volumes.values():
            if "secret" not in v:
                continue
            s = v["secret"]
            self.assertIn(s["secretName"], self.secrets, v["name"])
            self.assertEqual(s["defaultMode"], 0o400, v["name"] + ": defaultMode 0400")
            for item in s.get("items", []):
                self.assertIn(item["key"], self.secrets[s["secretName"]]["stringData"])
            used.add(s["secretName"])
        self.assertEqual(used, set(self.secrets), "every Secret of the template is used")
        for s in self.secrets.values():
            for key, value in s["stringData"].items():
                self.assertIn("REPLACE_WITH_", value, "%s/%s is a placeholder" % (
                    s["metadata"]["name"], key))

    def test_files_named_by_flags_come_from_their_secrets(self):
        for name, secret, key in (("--tls-cert", "smimed-tls", "tls.crt"),
                                  ("--tls-key", "smimed-tls", "tls.key"),
                                  ("--client-ca", "smimed-tls", "ca.crt")):
            path = flag(self.args, name)
            mount, volume = self.mount_for(path)
            self.assertTrue(mount.get("readOnly"), name)
            self.assertEqual(volume["secret"]["secretName"], secret, name)
            rel = path[len(mount["mountPath"].rstrip("/")) + 1:]
            self.assertIn({"key": key, "path": rel}, volume["secret"]["items"], name)

        # The KEK: the keystore refuses a group-readable file, and a Secret volume with
        # fsGroup is group-readable (0400 becomes 0440). So the file smimed reads must be
        # on a memory-backed volume that the init container filled from the Secret.
        kek = flag(self.args, "--kek-file")
        mount, volume = self.mount_for(kek)
        self.assertNotIn("secret", volume, "--kek-file must not point into a Secret volume")
        self.assertEqual(volume["emptyDir"].get("medium"), "Memory")
        init = [c for c in self.pod["initContainers"]
                if any(m["name"] == mount["name"] for m in c["volumeMounts"])]
        self.assertEqual(len(init), 1, "one init container writes the KEK volume")
        command = init[0]["command"]
        self.assertEqual(command[-1], os.path.join(
            self.mount_for(kek, init[0])[0]["mountPath"], os.path.basename(kek)))
        self.assertEqual(command[:3], ["install", "-m", "0400"])
        src_mount, src_volume = self.mount_for(command[-2], init[0])
        self.assertEqual(src_volume["secret"]["secretName"], "smimed-kek")
        self.assertIsNotNone(self.pod["securityContext"].get("fsGroup"),
                             "without fsGroup the non-root user cannot read Secret files")

        url = [e for e in self.container["env"] if e["name"] == "SMIMED_DATABASE_URL"][0]
        self.assertEqual(flag(self.args, "--database-url"), "$(SMIMED_DATABASE_URL)")
        self.assertEqual(url["valueFrom"]["secretKeyRef"]["name"], "smimed-database")

    def test_security_context(self):
        pod = self.pod["securityContext"]
        self.assertTrue(pod["runAsNonRoot"])
        self.assertNotEqual(pod.get("runAsUser", 1), 0)
        self.assertEqual(pod["seccompProfile"]["type"], "RuntimeDefault")
        self.assertFalse(self.pod["automountServiceAccountToken"])
        for c in self.pod["containers"] + self.pod.get("initContainers", []):
            sc = c["securityContext"]
            self.assertTrue(sc["runAsNonRoot"], c["name"])
            self.assertTrue(sc["readOnlyRootFilesystem"], c["name"])
            self.assertFalse(sc["allowPrivilegeEscalation"], c["name"])
            self.assertEqual(sc["capabilities"]["drop"], ["ALL"], c["name"])
            self.assertNotIn("add", sc["capabilities"], c["name"])
            self.assertNotIn("privileged", sc, c["name"])

    def test_flags_are_the_binaries_own(self):
        smimed_help = subprocess.run([runfile("service/smimed"), "--help"], check=True,
                                     capture_output=True, text=True).stdout
        for a in self.container["args"]:
            name = a.split("=", 1)[0]
            if name.startswith("--"):
                self.assertRegex(smimed_help, r"\n  %s[ \n]" % re.escape(name),
                                 "smimed --help does not know %s" % name)
        smimectl_help = subprocess.run([runfile("client/smimectl"), "--help"], check=True,
                                       capture_output=True, text=True).stdout
        command = self.container["livenessProbe"]["exec"]["command"]
        for a in command[1:]:
            if a.startswith("--"):
                self.assertIn("  %s " % a, smimectl_help)
        self.assertRegex(smimectl_help, r"\n  %s " % command[-1])


def load_plain(name):
    with open(runfile("deploy/" + name)) as f:
        return yaml.safe_load(f)


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
