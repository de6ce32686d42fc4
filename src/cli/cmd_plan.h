/*
 * cmd_plan.h — `kinlake plan`: shard count, capacity and monthly cost of
 * each deployment mode for a workload (plan/plan.h does the arithmetic).
 */
#ifndef KL_CLI_CMD_PLAN_H
#define KL_CLI_CMD_PLAN_H

/* argv after the verb; returns the exit status (0, 1, 2 = bad usage). */
int kl_cmd_plan(int argc, char **argv);

#endif
