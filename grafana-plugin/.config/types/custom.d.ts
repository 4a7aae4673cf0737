// Image imports resolve to their URL under public/plugins/<id>/img/.
declare module '*.png';
declare module '*.jpg';
declare module '*.jpeg';
declare module '*.gif';
declare module '*.svg';
