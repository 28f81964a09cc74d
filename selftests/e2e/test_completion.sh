#!/usr/bin/env bash
# lbctl's bash completion against a running lbd: the VIPs it offers for
# ADDR:PORT/PROTO and the backends for BACKEND_ADDR are those lbd has, as
# lbctl vip list and backend list print them (IPv6 in brackets), they
# follow a change at once, and lbd gone, nothing is offered.
E2E_PREFIX=xe-comp E2E_SUITE=completion
source "$(dirname "$0")/lib.sh"
e2e_start 1
P=$E2E_PREFIX
SOCK=$(tb_dir $P)/$(tb_lbd_base).sock
KEY4="$TB_VIP4:80/tcp" KEY6="[$TB_VIP6]:53/udp"
B4=$(tb_backend_addr 1 4) B6=$(tb_backend_addr 1 6)

lbctl vip add "$KEY4" >/dev/null
lbctl vip add "$KEY6" --check none >/dev/null
lbctl backend add "$KEY4" "$B4" >/dev/null
lbctl backend add "$KEY4" "$B6" >/dev/null
"$TB_BUILD/lbctl" completion bash >"$TB_DIR/lbctl.bash"
# shellcheck source=/dev/null
source "$TB_DIR/lbctl.bash"

# offers WORD...: what the completion offers, sorted, for a line whose last word is being completed.
offers() {
	COMP_WORDS=("$TB_BUILD/lbctl" -s "$SOCK" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_lbctl
	printf '%s\n' "${COMPREPLY[@]}" | grep . | sort | tr '\n' ' ' | sed 's/ $//'
}
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
# What lbd itself lists, as lbctl prints it in text.
# shellcheck disable=SC2046 # one VIP a word
listed=$(sorted $(lbctl vip list | awk 'NR > 1 { print $1 }'))

got=$(offers vip del "")
expect vips_offered "offered '$got', want '$(sorted "$KEY4" "$KEY6")'" test "$got" = "$(sorted "$KEY4" "$KEY6")"
expect vips_as_vip_list_prints_them "offered '$got', vip list shows '$listed'" test "$got" = "$listed"
got=$(offers backend del "$KEY4" "")
expect backends_offered "offered '$got', want '$(sorted "$B4" "$B6")'" test "$got" = "$(sorted "$B4" "$B6")"
got=$(offers backend set "$KEY6" "")
expect no_backends_no_offer "offered '$got' for a VIP without backends" test -z "$got"
lbctl vip del "$KEY6" >/dev/null
got=$(offers vip set "")
expect deleted_vip_gone "offered '$got' after vip del $KEY6" test "$got" = "$KEY4"
tb_lbd_stop $P
got=$(offers vip del "")
expect nothing_without_lbd "offered '$got' with lbd stopped" test -z "$got"
