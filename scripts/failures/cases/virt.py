"""Containers and VMs: docker without a daemon, podman/skopeo against a
closed registry, podman with an empty rootfs, qemu-img on bad or missing
images, qemu-system without KVM access, virsh without libvirtd."""
import os
from lib import case, deb, cmdver, CI_USER

DOCKER = lambda: f"Docker client {cmdver('docker --version')}"
QIMG = lambda: f"qemu-img {cmdver('qemu-img --version')}"
QSYS = lambda: f"QEMU {deb('qemu-system-x86')}"


@case("service_dependency-docker-ps-01", "service_dependency", "docker",
      "docker ps on a machine where no Docker daemon runs (client only).",
      DOCKER, r"Cannot connect to the Docker daemon")
def _(ctx):
    return ctx.run("docker ps")


@case("service_dependency-docker-build-01", "service_dependency", "docker",
      "docker build of a one-line Dockerfile on a machine where no Docker daemon runs.",
      DOCKER, r"(?i)docker daemon|docker.sock")
def _(ctx):
    d = ctx.dir("docker-build")
    ctx.write(f"{d}/Dockerfile", "FROM debian:12-slim\nRUN echo hi\n")
    return ctx.run("docker build -t corpus/app:ci .", cwd=d)


@case("network-podman-pull-refused-01", "network", "podman",
      "podman pull from a registry address on a closed loopback port.",
      lambda: f"podman {deb('podman')}", r"connection refused")
def _(ctx):
    ctx.closed(18980)
    return ctx.run("podman pull 127.0.0.1:18980/corpus/app:1.0")


@case("network-skopeo-refused-01", "network", "skopeo",
      "skopeo inspect of an image on a registry address on a closed loopback port.",
      lambda: f"skopeo {deb('skopeo')}", r"connection refused")
def _(ctx):
    ctx.closed(18981)
    return ctx.run("skopeo inspect docker://127.0.0.1:18981/corpus/app:1.0")


@case("virtualization-podman-rootfs-01", "virtualization", "podman",
      "podman run --rootfs of a directory inside this VM sandbox, where the OCI runtime (crun) may not set the container's rlimits.",
      lambda: f"podman {deb('podman')}; crun {deb('crun')}", r"OCI")
def _(ctx):
    d = ctx.dir("podman-rootfs")
    return ctx.run(f"podman run --rm --rootfs {d} /bin/sh -c 'echo ok'")


@case("virtualization-qemu-img-missing-01", "virtualization", "qemu-img",
      "qemu-img info of a VM disk image path that does not exist.",
      QIMG, r"Could not open")
def _(ctx):
    d = ctx.dir("qemu-img")
    return ctx.run(f"qemu-img info {d}/runner-base.qcow2")


@case("virtualization-qemu-img-corrupt-01", "virtualization", "qemu-img",
      "qemu-img check of a qcow2 image whose L1 table offset was overwritten.",
      QIMG, r"(?i)corrupt|error|invalid|could not open")
def _(ctx):
    d = ctx.dir("qemu-img")
    ctx.sh(f"qemu-img create -q -f qcow2 {d}/disk.qcow2 64M && "
           f"printf '\\x00\\x00\\x00\\x00\\x7f\\xff\\xff\\x01' | dd of={d}/disk.qcow2 bs=1 seek=40 conv=notrunc status=none")
    return ctx.run(f"qemu-img check {d}/disk.qcow2")


@case("virtualization-qemu-img-unknownformat-01", "virtualization", "qemu-img",
      "qemu-img create with an image format name qemu does not know (qcow3).",
      QIMG, r"Unknown file format|unknown")
def _(ctx):
    d = ctx.dir("qemu-img")
    return ctx.run(f"qemu-img create -f qcow3 {d}/disk.img 1G")


@case("storage-qemu-img-convert-01", "storage", "qemu-img",
      "qemu-img convert of a 4 MiB raw image with data into a raw image on a 1 MiB tmpfs.",
      QIMG, r"No space left on device")
def _(ctx):
    d = ctx.dir("qemu-img")
    ctx.sh(f"head -c 4194304 /dev/urandom > {d}/src.raw")
    t = ctx.tmpfs("qemu-full", size="1m")
    return ctx.run(f"qemu-img convert -f raw -O raw {d}/src.raw {t}/dst.raw")


@case("virtualization-qemu-kvmperm-01", "virtualization", "qemu-system-x86_64",
      "qemu-system-x86_64 -enable-kvm run as an unprivileged user who is not in the kvm group (/dev/kvm is root-only).",
      QSYS, r"KVM|kvm")
def _(ctx):
    return ctx.run("timeout 30 qemu-system-x86_64 -enable-kvm -m 128 -nographic -display none -no-reboot -kernel /nonexistent-kernel",
                   user=CI_USER)


@case("virtualization-qemu-nodisk-01", "virtualization", "qemu-system-x86_64",
      "qemu-system-x86_64 (TCG) started with a -drive file that does not exist.",
      QSYS, r"Could not open|No such file")
def _(ctx):
    d = ctx.dir("qemu-sys")
    return ctx.run(f"timeout 30 qemu-system-x86_64 -accel tcg -m 128 -nographic -display none "
                   f"-drive file={d}/runner.qcow2,format=qcow2,if=virtio")


@case("resource_exhaustion-qemu-guestmem-01", "resource_exhaustion", "qemu-system-x86_64",
      "qemu-system-x86_64 (TCG) asked for 4 GiB of guest RAM in a bash step under ulimit -v 1000000 (KiB).",
      QSYS, r"Cannot allocate memory|cannot set up guest memory")
def _(ctx):
    return ctx.run("ulimit -v 1000000; timeout 30 qemu-system-x86_64 -accel tcg -m 4G -nographic -display none -no-reboot")


@case("virtualization-virsh-nolibvirtd-01", "virtualization", "virsh",
      "virsh list --all on a machine where libvirtd is not running.",
      lambda: f"virsh {deb('libvirt-clients')}", r"failed to connect to the hypervisor")
def _(ctx):
    return ctx.run("virsh list --all")


@case("virtualization-virsh-start-01", "virtualization", "virsh",
      "virsh -c qemu:///system start of a domain while libvirtd is not running.",
      lambda: f"virsh {deb('libvirt-clients')}", r"hypervisor|libvirt-sock")
def _(ctx):
    return ctx.run("virsh -c qemu:///system start ci-runner-01")
