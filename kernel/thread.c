/* Kernel thread life cycle: create, exit, join, detach. */
#include <lego/sched.h>
#include <lego/wait.h>
#include <lego/time.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/string.h>
#include <lego/user.h>
#include <asm/cpu.h>

#define STACK_SIZE ((size_t)CONFIG_KERNEL_STACK_PAGES * PAGE_SIZE)

void sched_enqueue_new(struct thread *t);
void sched_thread_dead(struct thread *t);
void thread_start(void) __noreturn;
void thread_free(struct thread *t);
extern char thread_entry[];

static atomic_t next_tid = ATOMIC_INIT(0);

/* The online CPU hosting fewest threads, skipping dedicated CPUs unless
 * every CPU is dedicated. */
static int pick_cpu(void)
{
	int best = -1;
	for (int pass = 0; pass < 2 && best < 0; pass++)
		for (int i = 0; i < nr_cpus_possible; i++) {
			struct cpu_local *c = cpu_local_of(i);
			if (!c || !c->online || (pass == 0 && c->dedicated))
				continue;
			if (best < 0 || sched_nr_threads(i) < sched_nr_threads(best))
				best = i;
		}
	return best;
}

static void thread_init_common(struct thread *t)
{
	t->tid = atomic_inc_return(&next_tid) - 1;
	INIT_LIST_HEAD(&t->rq_node);
	spin_lock_init(&t->join_lock);
}

struct thread *thread_create(thread_fn_t fn, void *arg, int cpu, const char *fmt, ...)
{
	if (cpu == THREAD_CPU_ANY)
		cpu = pick_cpu();
	if (cpu < 0 || cpu >= nr_cpus_possible || !cpu_local_of(cpu) || !cpu_local_of(cpu)->online)
		return NULL;

	struct thread *t = kzalloc(sizeof(*t));
	if (!t)
		return NULL;
	t->stack = stack_alloc(STACK_SIZE);
	if (!t->stack) {
		kfree(t);
		return NULL;
	}
	t->stack_size = STACK_SIZE;
	thread_init_common(t);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
	va_end(ap);
	t->fn = fn;
	t->arg = arg;
	t->cpu = cpu;
	t->pinned = true;

	/* Initial frame consumed by switch_stack: flags (interrupts off until
	 * thread_start), six callee-saved registers, then "return" into
	 * thread_entry with a zero return address above it. */
	unsigned long *sp = (unsigned long *)((char *)t->stack + STACK_SIZE);
	*--sp = 0;
	*--sp = (unsigned long)thread_entry;
	for (int i = 0; i < 6; i++)
		*--sp = 0;
	*--sp = 0x2;	/* RFLAGS: reserved bit only */
	t->rsp = (unsigned long)sp;

	sched_enqueue_new(t);
	return t;
}

void thread_start(void)
{
	struct thread *t = current;

	timer_program_cpu();
	local_irq_enable();
	thread_exit(t->fn(t->arg));
}

struct thread *thread_adopt_boot(const char *name, void *stack_base, size_t size)
{
	static struct thread boot_threads[CONFIG_NR_CPUS];
	struct thread *t = &boot_threads[smp_processor_id()];

	thread_init_common(t);
	strlcpy(t->name, name, sizeof(t->name));
	t->stack = stack_base;
	t->stack_size = size;
	return t;
}

void thread_exit(int code)
{
	struct thread *t = current;

	if (t->is_idle)
		panic("idle thread tried to exit");
	/* Interrupts stay off from here: once DEAD, a preemption would switch
	 * away for good before the joiner is woken. */
	local_irq_disable();
	spin_lock(&t->join_lock);
	t->exit_code = code;
	sched_thread_dead(t);
	t->state = THREAD_DEAD;
	struct thread *joiner = t->joiner;
	spin_unlock(&t->join_lock);
	if (joiner)
		thread_wake(joiner);
	schedule();
	panic("dead thread %s rescheduled", t->name);
}

void thread_free(struct thread *t)
{
	if (t->user)
		user_thread_free(t);
	stack_free(t->stack, t->stack_size);
	kfree(t);
}

int thread_join(struct thread *t)
{
	if (t == current)
		panic("thread %s joining itself", t->name);
	for (;;) {
		unsigned long f = spin_lock_irqsave(&t->join_lock);
		if (t->state == THREAD_DEAD) {
			spin_unlock_irqrestore(&t->join_lock, f);
			break;
		}
		t->joiner = current;
		sched_prepare_block();
		spin_unlock_irqrestore(&t->join_lock, f);
		schedule();
	}
	current->state = THREAD_RUNNABLE;
	/* Its stack is in use until the switch away from it completes. */
	while (__atomic_load_n(&t->on_cpu, __ATOMIC_ACQUIRE))
		cpu_relax();
	int code = t->exit_code;
	thread_free(t);
	return code;
}

void thread_detach(struct thread *t)
{
	unsigned long f = spin_lock_irqsave(&t->join_lock);
	if (t->state != THREAD_DEAD) {
		t->detached = true;
		spin_unlock_irqrestore(&t->join_lock, f);
		return;
	}
	spin_unlock_irqrestore(&t->join_lock, f);
	while (__atomic_load_n(&t->on_cpu, __ATOMIC_ACQUIRE))
		cpu_relax();
	thread_free(t);
}
