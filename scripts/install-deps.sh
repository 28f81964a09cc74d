#!/usr/bin/env bash
# Installs the Debian packages xlb needs to build and test, only those missing.
set -euo pipefail

# command-or-file  package
needs=(
	"clang clang"
	"gcc gcc"
	"make make"
	"pkg-config pkg-config"
	"bpftool bpftool"
	"/usr/include/bpf/libbpf.h libbpf-dev"
	"/usr/include/gelf.h libelf-dev"
	"/usr/include/zlib.h zlib1g-dev"
	"/usr/include/libmnl/libmnl.h libmnl-dev"
	"/usr/include/systemd/sd-daemon.h libsystemd-dev"
	"/usr/include/microhttpd.h libmicrohttpd-dev"
	# The cluster's configuration in etcd: its JSON gateway through libcurl, json-c and OpenSSL's base64.
	"curl-config libcurl4-openssl-dev"
	"/usr/include/json-c/json.h libjson-c-dev"
	"/usr/include/openssl/evp.h libssl-dev"
	"etcd etcd-server"
	"etcdctl etcd-client"
	"ethtool ethtool"
	"ping iputils-ping"
	"tcpdump tcpdump"
	# test_flows.sh: which of lbd's threads makes the sweep's reads.
	"strace strace"
	"curl curl"
	"python3 python3"
	"ip iproute2"
	"keepalived keepalived"
	"tshark tshark"
	"nginx nginx-light"
	"wrk wrk"
	"nft nftables"
	"bird bird2"
	# test_metrics.sh: promtool checks lbd's metrics, a real Prometheus server scrapes them.
	"prometheus prometheus"
	"promtool prometheus"
	# make bench draws BENCHMARKS.md's charts with it (scripts/charts.sh); test_charts.sh checks them.
	"gnuplot gnuplot-nox"
	"dpkg-buildpackage dpkg-dev"
	"dh debhelper"
	# make deb: dpkg-buildpackage checks for build-essential besides the Build-Depends.
	"/usr/share/build-essential/list build-essential"
)

missing=()
for n in "${needs[@]}"; do
	what=${n% *} pkg=${n#* }
	if [[ $what == /* ]]; then
		[[ -e $what ]] || missing+=("$pkg")
	else
		command -v "$what" >/dev/null 2>&1 || missing+=("$pkg")
	fi
done

if ((${#missing[@]})); then
	if ((EUID != 0)); then
		echo "xlb: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "xlb: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
