# Sourced by the scripts that need a broker: `start_tansu PORT DIR` starts a fresh in-memory
# tansu on 127.0.0.1:PORT with its files and log in DIR, sets `broker` to its pid, and returns
# once the port accepts connections (at most 10 s).
start_tansu() {
    local port="$1" dir="$2"
    (cd "$dir" && exec tansu broker --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/) \
        >"$dir/tansu.log" 2>&1 &
    broker=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "tansu did not listen on 127.0.0.1:$port within 10 s; see $dir/tansu.log" >&2
    return 1
}
