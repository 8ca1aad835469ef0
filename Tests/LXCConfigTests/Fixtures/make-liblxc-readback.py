import lxc, sys, json, _lxc
def fresh():
    c = lxc.Container("x", "/tmp/probe/lxcp"); c.load_config("/tmp/probe/empty.conf"); return c
def g(c,k):
    try: v = _lxc.Container.get_config_item(c,k)
    except Exception as e: return None
    if isinstance(v, list): return "\n".join(v)+"\n"
    return v
for line in open('/tmp/probe/cases.txt'):
    line=line.rstrip('\n')
    if not line: continue
    k, v = line.split('\t',1)
    c = fresh()
    pre = {}
    if k.startswith('lxc.net.0.') and not k.endswith('.type'):
        t = 'veth'
        if 'macvlan' in k: t='macvlan'
        if 'ipvlan' in k: t='ipvlan'
        if k.endswith('.vlan.id') and 'veth' not in k: t='vlan'
        _lxc.Container.set_config_item(c, 'lxc.net.0.type', t)
    ok = _lxc.Container.set_config_item(c, k, v)
    print(json.dumps([k, v, ok, g(c,k)]))
