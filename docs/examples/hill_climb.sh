#!/bin/sh
# A search algorithm for hwbench written in POSIX sh: random-mutation hill climbing.
#
# It speaks hwbench's JSON-lines protocol on stdin/stdout (docs/search.md):
#   start -> take the seed;  ask -> print {"arch": "..."};  tell -> keep the best;  stop -> exit.
# The first proposal is a random cell; every later one changes one edge of the best cell told so
# far to another op. Trials told with "score": null (infeasible, failed, or Pareto tasks) never
# become the best, so on Pareto tasks this is random search.
# Randomness: the Park-Miller "minimal standard" generator via Schrage's method in shell
# arithmetic (exact in 32 bits), so every POSIX shell gives the same trajectory for a seed.
#
# Run it:  hwbench run --task TASK --algorithm "exec:sh docs/examples/hill_climb.sh" --seeds 10

OP0=none OP1=skip_connect OP2=nor_conv_1x1 OP3=nor_conv_3x3 OP4=avg_pool_3x3
SEED=1 HAVE_BEST=0 BEST=0

rnd() {  # R = next number in 1..2147483646; RN = R mod $1
    hi=$((SEED / 127773)); lo=$((SEED - hi * 127773))
    SEED=$((16807 * lo - 2836 * hi))
    [ "$SEED" -le 0 ] && SEED=$((SEED + 2147483647))
    RN=$((SEED % $1))
}

while IFS= read -r line; do
    case $line in
    *'"type": "start"'*)
        s=${line#*\"seed\": }; s=${s%%[,\}]*}
        SEED=$((s % 2147483646 + 1))
        ;;
    *'"type": "ask"'*)
        e=1
        while [ $e -le 6 ]; do
            if [ "$HAVE_BEST" = 1 ]; then eval "c$e=\$b$e"; else rnd 5; eval "c$e=$RN"; fi
            e=$((e + 1))
        done
        if [ "$HAVE_BEST" = 1 ]; then
            rnd 6; e=$((RN + 1)); rnd 4; eval "cur=\$b$e"
            [ "$RN" -ge "$cur" ] && RN=$((RN + 1))
            eval "c$e=$RN"
        fi
        eval "o1=\$OP$c1 o2=\$OP$c2 o3=\$OP$c3 o4=\$OP$c4 o5=\$OP$c5 o6=\$OP$c6"
        printf '{"arch": "|%s~0|+|%s~0|%s~1|+|%s~0|%s~1|%s~2|"}\n' "$o1" "$o2" "$o3" "$o4" "$o5" "$o6"
        ;;
    *'"type": "tell"'*)
        sc=${line#*\"score\": }; sc=${sc%%[,\}]*}
        if [ "$sc" != null ]; then
            # a float comparison is the one thing POSIX sh arithmetic cannot do; awk does it
            if [ "$HAVE_BEST" = 0 ] || awk "BEGIN { exit !($sc > $BEST) }"; then
                HAVE_BEST=1 BEST=$sc
                b1=$c1 b2=$c2 b3=$c3 b4=$c4 b5=$c5 b6=$c6
            fi
        fi
        ;;
    *'"type": "stop"'*) exit 0 ;;
    esac
done
