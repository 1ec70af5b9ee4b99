# jitscope's Julia kernel server: a long-lived `julia` process driven by julia_backend.py.
#
# Protocol: one command per line on stdin, one reply per line on stdout (flushed).
#   startup                          -> "READY <julia version>"
#   SETUP linreg <T> <Xfile> <n> <d> <yfile> <coef> <epochs>   -> "OK"
#   SETUP mcpi <T> <n> <seed>                                  -> "OK"
#   SETUP lu <T> <Afile> <n>                                   -> "OK"
#   SETUP nodes <T> <n> <p> <seed>                             -> "OK"
#   RUN                              -> "OK <elapsed_ns> <eltype> <result values...>"
#   QUIT                             -> exits
# Errors reply "ERR <message>". <T> is float64 or float32. Files hold raw little-endian
# float64 in NumPy's row-major (C) order. Timing inside Julia uses time_ns() around the call.
# <eltype> is the element type of the data the kernel computed with, read from that data
# (eltype of the arrays, typeof of a sample), lower-cased: float64 or float32.

using Random

const STATE = Dict{Symbol,Any}()

eltype_of(name) = name == "float32" ? Float32 : Float64

function read_matrix(path, rows, cols)
    # The file is row-major rows x cols; Julia reads column-major, i.e. the transpose.
    buf = Array{Float64}(undef, cols, rows)
    open(path) do io
        read!(io, buf)
    end
    return buf  # cols x rows: column i is row i of the original
end

function linreg!(X::Matrix{T}, y::Vector{T}, coef::T, epochs::Int) where {T}
    # X is d x N (each column one sample): one fused pass over X per epoch.
    d, n = size(X)
    w = zeros(T, d)
    g = zeros(T, d)
    @inbounds for _ in 1:epochs
        fill!(g, zero(T))
        for i in 1:n
            r = -y[i]
            @simd for j in 1:d
                r += X[j, i] * w[j]
            end
            @simd for j in 1:d
                g[j] += X[j, i] * r
            end
        end
        @simd for j in 1:d
            w[j] -= coef * g[j]
        end
    end
    return w
end

function mcpi(n::Int, seed::Int, ::Type{T}) where {T}
    rng = Xoshiro(seed)
    count = 0  # Int64 counter
    x = zero(T)
    @inbounds for _ in 1:n
        x = rand(rng, T)
        y = rand(rng, T)
        count += (x * x + y * y <= one(T))
    end
    return 4.0 * count / n, typeof(x)  # the estimate, and the type the samples had
end

function lu_slogdet(A::Matrix{T}) where {T}
    a = copy(A)  # each call factors a fresh copy
    n = size(a, 1)
    @inbounds for k in 1:n-1
        pivot = a[k, k]
        for i in k+1:n
            a[i, k] /= pivot
        end
        for j in k+1:n  # column-oriented (kji) order: unit stride in column-major memory
            ukj = a[k, j]
            @simd for i in k+1:n
                a[i, j] -= a[i, k] * ukj
            end
        end
    end
    sign = 1.0
    logdet = 0.0
    for k in 1:n
        u = a[k, k]
        sign *= u < 0 ? -1.0 : 1.0
        logdet += log(abs(Float64(u)))
    end
    return (sign, logdet)
end

mutable struct Node{T}
    key::Int
    bias::T
end

function nodes(n::Int, p::Float64, seed::Int, ::Type{T}) where {T}
    rng = Xoshiro(seed)
    ns = [Node{T}(i, T(0.5)) for i in 1:n]
    for node in ns
        if rand(rng) < p
            node.bias += rand(rng, T)
        end
    end
    total = 0.0
    for node in ns
        total += node.bias
    end
    return total, typeof(ns[1].bias)  # the checksum, and the type the biases had
end

function setup(parts)
    kind = parts[2]
    T = eltype_of(parts[3])
    if kind == "linreg"
        n = parse(Int, parts[5]); d = parse(Int, parts[6])
        X = T.(read_matrix(parts[4], n, d))
        y = T.(vec(read_matrix(parts[7], n, 1)))
        coef = T(parse(Float64, parts[8])); epochs = parse(Int, parts[9])
        STATE[:run] = () -> (w = linreg!(X, y, coef, epochs); (w, eltype(w)))
    elseif kind == "mcpi"
        n = parse(Int, parts[4]); seed = parse(Int, parts[5])
        STATE[:run] = () -> mcpi(n, seed, T)  # (estimate, sample type)
    elseif kind == "lu"
        n = parse(Int, parts[5])
        A = T.(permutedims(read_matrix(parts[4], n, n)))  # back to A itself
        STATE[:run] = () -> (lu_slogdet(A), eltype(A))
    elseif kind == "nodes"
        n = parse(Int, parts[4]); p = parse(Float64, parts[5]); seed = parse(Int, parts[6])
        STATE[:run] = () -> nodes(n, p, seed, T)  # (checksum, bias type)
    else
        error("unknown workload $kind")
    end
end

format_result(x::Real) = string(Float64(x))
format_result(x::Tuple) = join(map(format_result, x), ' ')
format_result(x::AbstractVector) = join(map(format_result, x), ' ')

function main()
    println("READY ", VERSION)
    flush(stdout)
    while !eof(stdin)
        line = readline(stdin)
        parts = split(strip(line))
        isempty(parts) && continue
        cmd = parts[1]
        cmd == "QUIT" && break
        try
            if cmd == "SETUP"
                setup(parts)
                println("OK")
            elseif cmd == "RUN"
                run = STATE[:run]
                t0 = time_ns()
                result, seen = run()
                elapsed = time_ns() - t0
                println("OK ", elapsed, " ", lowercase(string(seen)), " ", format_result(result))
            else
                error("unknown command $cmd")
            end
        catch err
            println("ERR ", replace(sprint(showerror, err), '\n' => ' '))
        end
        flush(stdout)
    end
end

main()
