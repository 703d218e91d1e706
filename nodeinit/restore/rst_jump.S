/*
 * The restorer's two moves that C cannot make.
 *
 * rst_onstack(top, fn): run fn on a new stack; fn never returns.  The
 * kernel's stack may sit where the image wants its memory, so the
 * restorer leaves it before it unmaps anything.
 *
 * rst_jump(fs_base, uc): set the image's TLS base, then rt_sigreturn with
 * rsp at the ucontext of the frame built in the image's stack.  After
 * ARCH_SET_FS the restorer's own TLS (and errno) is gone, so nothing but
 * these two raw syscalls may run in between.
 */
	.text
/*
 * _start: what musl's crt1.o does, without its reference to _DYNAMIC
 * (see the Makefile): rst_start_c(the kernel's initial stack pointer).
 */
	.globl	_start
	.type	_start, @function
_start:
	xor	%ebp, %ebp
	mov	%rsp, %rdi
	and	$-16, %rsp
	call	rst_start_c
	hlt
	.size	_start, . - _start

	.globl	rst_onstack
	.type	rst_onstack, @function
rst_onstack:
	mov	%rdi, %rsp
	and	$-16, %rsp
	xor	%ebp, %ebp
	call	*%rsi
	hlt
	.size	rst_onstack, . - rst_onstack

	.globl	rst_jump
	.type	rst_jump, @function
rst_jump:
	mov	%rsi, %r12
	mov	%rdi, %rsi
	mov	$0x1002, %edi		/* ARCH_SET_FS */
	mov	$158, %eax		/* SYS_arch_prctl */
	syscall
	mov	%r12, %rsp
	mov	$15, %eax		/* SYS_rt_sigreturn */
	syscall
	hlt
	.size	rst_jump, . - rst_jump

	.section .note.GNU-stack, "", @progbits
