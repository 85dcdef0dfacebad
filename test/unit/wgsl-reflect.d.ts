// wgsl_reflect's package entry for Node (wgsl_reflect.node.js) is a CommonJS
// file inside a "type": "module" package, so Node cannot load it; the tests
// import its ES module build, whose types are the package's own.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
